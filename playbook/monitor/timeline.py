"""The endpoint's timeline and its workers, as RunPod exposes them: sampled from ``GET /v2/serverless/{id}/workers``
(active workers and their status) and the job API's ``/health`` (queue), on either target.

Why sampling: RunPod has no metrics endpoint and lists only active workers, so a worker that started and
stopped between two looks is gone for good; a thread that looks every ``interval_s`` while a burst runs (and
until the endpoint is back at zero) keeps the worker count over time and each worker seen: when it first
appeared, when it was first ready (IDLE or RUNNING), when it was last listed. Jobs say which worker ran them
(``workerId`` in their status), so the jobs per worker come from the jobs themselves.

How::

    with timeline.Recorder(control, jobs, endpoint_id) as rec:   # or rec = ....start() ... rec.stop()
        batch = jobs.run_batch(...)
        rec.wait_for_workers(0)            # the scale-to-zero, seen through /workers
    rec.samples, rec.workers(batch.results)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from playbook.core.waiting import wait_for

READY = ("IDLE", "RUNNING")


@dataclass(frozen=True)
class Sample:
    """Worker and job counts ``t_s`` seconds after the recorder started (the fields ``plot_timeline`` reads)."""

    t_s: float
    workers: int
    initializing: int
    idle: int
    running: int
    in_queue: int
    in_progress: int


@dataclass(frozen=True)
class SeenWorker:
    """One worker as the samples saw it (times in seconds since the recorder started); the attribute names of
    the local platform's ``WorkerInfo`` where they mean the same, so ``why_idle`` and ``workers_table`` take it."""

    id: str
    spawned_t_s: float  # first listed
    cold_start_s: float | None  # first listed -> first seen IDLE or RUNNING (at the sampling's resolution)
    exited_t_s: float | None  # first sample without it (None: still listed)
    jobs_done: int
    state: str  # its last status
    stop_reason: str | None = None  # RunPod does not say


class Recorder:
    """Samples ``control.endpoint_workers(endpoint_id)`` and ``jobs.health()`` every ``interval_s`` in a thread."""

    def __init__(self, control, jobs, endpoint_id: str, interval_s: float = 0.5):
        self.control, self.jobs, self.endpoint_id, self.interval_s = control, jobs, endpoint_id, interval_s
        self.samples: list[Sample] = []
        self._first: dict[str, float] = {}
        self._ready: dict[str, float] = {}
        self._last: dict[str, tuple[float, str]] = {}  # id -> (last listed, status)
        self._gone: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()
        self.errors = 0  # samples lost to a failed request (the next one goes on)

    def start(self) -> Recorder:
        """Take a first sample now, then one every ``interval_s`` until ``stop()``."""
        self._start = time.monotonic()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="timeline-recorder", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        """End the sampling (after one last sample); returns the samples."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        return self.samples

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - one lost sample must not end the recording
                self.errors += 1

    def sample(self) -> Sample:
        view = self.control.endpoint_workers(self.endpoint_id)
        health = self.jobs.health()
        t = round(time.monotonic() - self._start, 3)
        listed = {w["id"]: w["status"] for w in view.get("workers", [])}
        for worker_id, status in listed.items():
            self._first.setdefault(worker_id, t)
            if status in READY:
                self._ready.setdefault(worker_id, t)
            self._last[worker_id] = (t, status)
            self._gone.pop(worker_id, None)
        for worker_id in self._last.keys() - listed.keys():
            self._gone.setdefault(worker_id, t)
        counts = Counter(listed.values())
        sample = Sample(t, len(listed), counts["INITIALIZING"], counts["IDLE"], counts["RUNNING"],
                        health.jobs_in_queue, health.jobs_in_progress)
        self.samples.append(sample)
        return sample

    def wait_for_workers(self, count: int = 0, timeout_s: float = 120.0) -> float:
        """Wait until ``/workers`` lists ``count`` workers (0: scaled to zero); returns the seconds waited."""
        start = time.monotonic()
        since_t = start - self._start
        wait_for(lambda: self.samples[-1].t_s >= since_t and self.samples[-1].workers == count, timeout_s,
                 what=f"endpoint {self.endpoint_id} to reach {count} workers", interval_s=self.interval_s / 2)
        return time.monotonic() - start

    def workers(self, results=()) -> list[SeenWorker]:
        """Every worker the samples saw, first listed first; ``results`` (JobResults) give the jobs each ran."""
        done = Counter(r.worker_id for r in results if r.worker_id and r.ok)
        return [SeenWorker(w, t, round(self._ready[w] - t, 3) if w in self._ready else None, self._gone.get(w),
                           done[w], self._last[w][1] if w not in self._gone else "gone")
                for w, t in sorted(self._first.items(), key=lambda item: item[1])]


def listed_workers(control, endpoint_id: str) -> int:
    """How many workers ``GET /v2/serverless/{id}/workers`` lists now (RunPod lists active workers only)."""
    view = control.endpoint_workers(endpoint_id)
    return len(view.get("workers", []))


def wait_for_zero(control, endpoint_id: str, timeout_s: float = 180.0, interval_s: float = 0.25) -> float:
    """Wait until ``/workers`` lists no worker: an earlier notebook's warm workers stop after the endpoint's
    idle timeout, so what follows starts from a cold endpoint. Returns the seconds waited (0.0: already cold)."""
    start = time.monotonic()
    wait_for(lambda: listed_workers(control, endpoint_id) == 0, timeout_s,
             what=f"endpoint {endpoint_id} to reach zero workers (its idle timeout)", interval_s=interval_s,
             max_interval_s=interval_s)
    return round(time.monotonic() - start, 3)
