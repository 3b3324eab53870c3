"""Notebook 00 says what its outputs show (issue 24): each sentence that states a measured fact is checked
against the values the journey's executed copy glued, and against the lines printed under it; the journey's
one-line summary and the plan notes read once in the notebooks that show them."""

from __future__ import annotations

import json
import re

import nbformat
from executed_outputs import journey_summaries, outputs_text

from playbook.cost import choice


def markdown(executed) -> str:
    nb = nbformat.read(str(executed), as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_the_first_job_is_told_as_it_ran(executed_notebook):
    run = executed_notebook("00")
    glued, text = run.glued, "\n".join(outputs_text(run.executed))
    # "A new endpoint has no workers: the job waits IN_QUEUE while one starts ... ends COMPLETED"
    assert "A new endpoint has no workers" in markdown(run.executed)
    assert glued["workers_before_first_job"] == 0
    assert glued["local_states"][0] == "IN_QUEUE" and glued["local_states"][-1] == "COMPLETED"
    assert glued["first_job_s"]["delay"] > 0  # it did wait for a worker to start
    printed = re.search(r"workers before the job: (\d+); it waited ([\d.]+) s in the queue while one started "
                        r"\(delayTime\), then ran ([\d.]+) s \(executionTime\)", text)
    assert printed, text[-2000:]
    assert int(printed[1]) == glued["workers_before_first_job"]
    assert float(printed[2]) == glued["first_job_s"]["delay"]
    assert float(printed[3]) == glued["first_job_s"]["execution"]
    assert glued["local_same_pixels"] is True and "same image as the in-process worker: True" in text


def test_the_client_example_ran_and_the_worker_stopped_after_its_idle_timeout(executed_notebook):
    run = executed_notebook("00")
    glued, text = run.glued, "\n".join(outputs_text(run.executed))
    assert glued["example_returncode"] == 0 and glued["example_images"] == 1
    assert "examples/python_requests.py job.json" in text and "RUNPOD_API_KEY=... " in text
    # "After its idle timeout the worker stops": the output under it says so
    assert glued["workers_after_idle"] == 0
    assert glued["jobs_completed"] == 2  # the job API's job and the example's
    assert f"jobs completed: {glued['jobs_completed']}; workers now: 0" in text


def test_the_platform_choice_prints_what_the_pricing_module_computes(executed_notebook):
    run = executed_notebook("00")
    glued, text = run.glued["break_even"], "\n".join(outputs_text(run.executed))
    nb = nbformat.read(str(run.executed), as_version=4)
    params: dict = {}
    for cell in nb.cells:  # the defaults, then what papermill injected (as the kernel saw them)
        if {"parameters", "injected-parameters"} & set(cell.metadata.get("tags", [])):
            exec(cell.source, {}, params)  # noqa: S102 (our own notebook's parameter assignments)
    expected = choice.break_even(params["pool"], params["job_s"], params["cold_start_s"], params["idle_timeout_s"])
    assert glued["pool"] == expected.pool
    assert glued["warm_utilisation"] == round(expected.warm_utilisation, 4)
    assert glued["cold_utilisation"] == round(expected.cold_utilisation, 4)
    assert expected.sentence() in text
    assert f"{glued['warm_utilisation']:.0%}" in text and f"{glued['cold_utilisation']:.1%}" in text
    # "below the every-job-cold line scale-to-zero wins by far": the cold bound is below the warm one
    assert glued["cold_utilisation"] < glued["warm_utilisation"] < 1


def test_the_journey_summary_is_one_line_in_every_notebook_that_shows_it(executed_notebook):
    for name in ("01", "02", "05", "06", "07"):
        run = executed_notebook(name)
        shown = journey_summaries(run.executed)
        assert shown, name
        plain = shown[-1]
        assert plain.startswith("journey (local): ") and "\n" not in plain and "{" not in plain, (name, plain)
        # the summary names the image 04 pushed, and no other: the journey has no Docker daemon, so none (the
        # rehearsal's summaries show 04's digest, shortened: tests/test_rehearsal.py)
        assert executed_notebook("04").glued["pushed_digest"] is None and " · image " not in plain, plain


def test_each_plan_note_is_shown_in_full_once_per_notebook(executed_notebook):
    nb = nbformat.read(str(executed_notebook("05").executed), as_version=4)
    shown = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "text/html" in o.get("data", {})]  # what a reader sees (the text form keeps every note)
    notes = [n for html in shown for n in re.findall(r"<li>(.*?)</li>", html)]
    assert any(n.startswith("zero-idle check: flashboot") for n in notes), "05 shows no zero-idle note"
    full = [n for n in notes if "as above (unchanged)" not in n]
    assert len(full) == len(set(full)), [n for n in full if full.count(n) > 1]
    assert any("as above (unchanged)" in n for n in notes)  # 05 plans and applies more than once


def test_glue_is_explained_before_it_is_used():
    from playbook.journey import notebooks

    quick = json.loads(notebooks.select(["00"])[0].read_text())
    sources = ["".join(c["source"]) for c in quick["cells"]]
    explained = next(i for i, s in enumerate(sources) if "`glue(name, value)`" in s)
    first_use = next(i for i, s in enumerate(sources) if "glue(\"" in s)
    assert explained < first_use
    assert notebooks.GLUE_MIME in sources[explained] and "read_glued" in sources[explained]
