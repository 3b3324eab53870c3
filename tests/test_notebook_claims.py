"""Every sentence notebooks 06 and 07 state about a measurement holds for the journey's executed copies: each is
checked against the values glued beside it, so a drift (a warm worker where the text says cold, a worker that
served nothing where the text says all served) fails here. 07's inputs are 06's measurements and the journey's
spec and pool, never typed-in times."""

from __future__ import annotations

import json
import re

import pytest

from playbook.cost.simulate import Dist

pytestmark = pytest.mark.notebook


def printed(run) -> str:
    """Everything the executed copy shows as text (stream output and text/plain results), not its sources."""
    parts = []
    for cell in json.loads(run.executed.read_text())["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            data = output.get("data", {})
            parts.append("".join(data.get("text/html", "")))
    return "\n".join(parts)


def test_06_starts_cold_and_its_first_job_pays_the_cold_start(executed_notebook):
    run = executed_notebook("06")
    glued, text = run.glued, printed(run)
    assert glued["workers_before"] == {"listed": 0, "counted": 0}  # the notebook waited for zero workers
    assert f"Zero workers after waiting {glued['waited_for_zero_s']:.0f} s" in text or (
        glued["waited_for_zero_s"] < 0.5 and "Zero workers without waiting" in text)
    assert "Not cold" not in text
    first, split = glued["first_job"], glued["first_split"]
    assert first["status"] == "COMPLETED" and first["delay_ms"] > 0
    assert split["starting_s"] > 0 and split["worker_cold_start_s"] > 0  # a split that is not all zeros
    assert split["delay_s"] == pytest.approx(first["delay_ms"] / 1000, abs=0.002)
    assert split["delay_s"] == pytest.approx(split["starting_s"] + split["queueing_s"], abs=0.002)
    assert (f"The first job waited {split['delay_s']:.2f} s (delayTime): {split['starting_s']:.2f} s while its "
            f"worker started") in text


def test_06_says_which_worker_served_what_from_its_stories(executed_notebook):
    run = executed_notebook("06")
    glued, text = run.glued, printed(run)
    stories, sentence = glued["stories"], glued["stories_sentence"]
    assert sentence in text
    idle = [s["worker_id"] for s in stories if s["jobs_done"] == 0]
    assert glued["idle_workers"] == len(idle)
    for story in stories:
        assert f"{story['worker_id']} {story['jobs_done']}" in sentence
    if idle:
        assert f"{len(idle)} served no job" in sentence and all(w in sentence.split("served no job")[1] for w in idle)
    else:
        assert "Every worker served at least one job" in sentence
    assert "served (almost) nothing" not in run.executed.read_text()  # no heading that claims it in advance


def test_06_scales_back_to_zero_and_leaves_the_endpoint_at_zero(executed_notebook):
    run = executed_notebook("06")
    glued, text = run.glued, printed(run)
    assert glued["final_workers"] == 0 and glued["workers_at_end"] == 0
    assert f"rose to {glued['max_workers']} worker(s)" in text
    assert f"back to 0 workers {glued['back_to_zero_s']:.0f} s after the burst" in text


def test_06_calls_the_endpoint_with_the_runpod_sdk_and_a_client_example(executed_notebook):
    run = executed_notebook("06")
    glued, text = run.glued, printed(run)
    assert glued["sdk_job"] == {"status": "COMPLETED", "images": 1}
    assert "runpod.Endpoint: job COMPLETED, 1 image(s)" in text
    example = glued["client_example"]
    assert example["returncode"] == 0 and example["saved"] == 1 and example["example"].startswith("python_")
    assert "RUNPOD_API_KEY=..." in text


def test_06_records_its_measurements_for_07(executed_notebook):
    glued = executed_notebook("06").glued
    measured = glued["measured"]
    # the first job and the burst, each with its executionTime; one cold start per worker whose log had marks
    assert len(measured["execution_s"]) == glued["jobs_completed"] and all(x > 0 for x in measured["execution_s"])
    assert 1 <= len(measured["cold_start_s"]) <= len(glued["stories"])
    assert max(measured["cold_start_s"]) >= glued["first_split"]["starting_s"] - 0.01


def test_07_simulates_with_06s_measurements_and_the_journeys_pool(executed_notebook):
    cost, monitor, storage = (executed_notebook(n).glued for n in ("07", "06", "02"))
    measured = monitor["measured"]
    timings = cost["timings"]
    assert timings["executions"] == len(measured["execution_s"])
    assert timings["cold_starts"] == len(measured["cold_start_s"])
    assert timings["execution_median_s"] == pytest.approx(Dist.fit(measured["execution_s"]).value, abs=0.001)
    assert timings["cold_start_median_s"] == pytest.approx(Dist.fit(measured["cold_start_s"]).value, abs=0.001)
    assert cost["pool"] == storage["chosen_pool"]  # 02 chose it; 07 prices it
    text = printed(executed_notebook("07"))
    assert "measured by notebook 06 on the journey's endpoint" in text and "(assumed)" not in text


def test_07_says_whether_a_worker_served_nothing_from_the_bills(executed_notebook):
    run = executed_notebook("07")
    glued, text = run.glued, printed(run)
    assert glued["endpoint_changes"] == [] and "06's settings applied again: nothing changed" in text
    sentence = glued["bills_sentence"]
    assert sentence in text and sentence.startswith(f"{glued['workers_billed']} worker(s) billed {glued['billed_s']} s")
    if glued["idle_worker_count"]:
        assert f"{glued['idle_worker_count']} served no job" in sentence and glued["idle_worker_usd"] > 0
    else:
        assert "every one served at least one job" in sentence and glued["idle_worker_usd"] == 0
    assert "including one that served nothing" not in run.executed.read_text()
    assert glued["workers_at_end"] == 0


def test_07_outputs_are_quiet_and_its_plots_legible(executed_notebook):
    run = executed_notebook("07")
    glued, text = run.glued, printed(run)
    assert not re.search(r"\d[eE][+-]\d", text), "a number in scientific notation"
    assert f"{glued['idle_share']:.0%}" in text  # the idle share as a percentage
    assert "{'min'" not in text and "{'type'" not in text  # settings as a table, not a dict
    bins = glued["trace_bins"]
    bursts = sum(1 for i, c in enumerate(bins) if c and (i == 0 or not bins[i - 1]))
    assert bursts == 24 and len(bins) <= 150  # a day of hourly bursts: every one its own step
    labels = glued["pareto_labels"]
    assert len(labels) == glued["pareto_points"] == len(set(labels))
