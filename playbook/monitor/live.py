"""A live view while jobs run: queue and workers refreshed in place, then a final table.

Why: under a burst the interesting part is the motion (jobs queueing, workers initializing, running,
idling); a table printed at the end hides it. In Jupyter an ipywidgets HTML box is redrawn every
``interval_s`` from ``/health`` and ``/v2/serverless/{id}/workers`` (either target); headless (papermill,
CI) a widget shows nothing useful, so the view always ends by displaying a plain HTML table of the last
state, which is what an executed notebook keeps.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from playbook.core.html import table


def snapshot_html(jobs, control, endpoint_id: str, t_s: float) -> str:
    health = jobs.health()
    view = control.endpoint_workers(endpoint_id)
    head = table([[round(t_s, 1), health.jobs_in_queue, health.jobs_in_progress, health.jobs_completed,
                   health.jobs_failed, view["summary"]["total"]]],
                 header=["t s", "in queue", "in progress", "completed", "failed", "workers"])
    workers = table([[w["id"], w["status"], w["uptimeSeconds"], w["isStale"]] for w in view["workers"]],
                    header=["worker", "status", "uptime s", "stale"])
    return head + workers


def watch_batch(jobs, control, endpoint_id: str, inputs: list[dict], concurrency: int = 4,
                interval_s: float = 0.5, timeout_s: float = 300.0):
    """Run ``jobs.run_batch(inputs)`` while a live view refreshes; returns the ``BatchResult``."""
    import time

    import ipywidgets
    from IPython.display import HTML, display

    box = ipywidgets.HTML(value="starting...")
    display(box)
    start = time.monotonic()
    done = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(jobs.run_batch, inputs, concurrency=concurrency, timeout_s=timeout_s)
        future.add_done_callback(lambda _: done.set())
        while not done.wait(interval_s):
            box.value = snapshot_html(jobs, control, endpoint_id, time.monotonic() - start)
        batch = future.result()
    final = snapshot_html(jobs, control, endpoint_id, time.monotonic() - start)
    box.value = final
    box.close()
    display(HTML("<b>after the burst</b>" + final))
    return batch
