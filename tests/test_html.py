"""Every notebook table escapes its values through playbook.core.html: user input (names, prompts, errors)
cannot inject markup."""

from __future__ import annotations

from playbook.api.jobs import BatchResult, JobResult
from playbook.core.config import Target
from playbook.core.html import Html, code, fields_table, paragraph, table
from playbook.core.secrets import Secret
from playbook.monitor.metrics import workers_table

EVIL = "<script>alert(1)</script>"


def test_cells_are_escaped_and_safe_html_kept():
    out = table([[EVIL, 1.23456789, None]], header=["<h>"], caption="<c>", row_styles=["color:red"])
    assert EVIL not in out and "&lt;script&gt;" in out and "1.235" in out and "&lt;h&gt;" in out
    assert "<tr style='color:red'>" in out
    assert "<b>kept</b>" in fields_table({"a": Html("<b>kept</b>"), "<k>": EVIL})
    assert EVIL not in fields_table({"a": EVIL}) and EVIL not in paragraph("x ", EVIL) and EVIL not in code(EVIL)


def test_repr_html_of_results_escape_user_input():
    batch = BatchResult([JobResult(EVIL, "FAILED", error=EVIL, worker_id=EVIL)], wall_s=1.0, counts={"FAILED": 1})
    target = Target(EVIL, EVIL, EVIL, Secret("k"))

    class Worker:
        id, cold_start_s, jobs_done, state, stop_reason = EVIL, 1.0, 0, "idle", EVIL

    for html in (batch._repr_html_(), target._repr_html_(), workers_table([Worker()])):
        assert EVIL not in html and "&lt;script&gt;" in html
    assert "**********" in target._repr_html_() and "<code>" in target._repr_html_()
