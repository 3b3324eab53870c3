"""Watching the local platform: job timings and the worker count over time, as tables and plots.

Why here: the notebook shows how serverless behaves (queueing delay, execution time, cold starts,
scale up under a burst and back to zero), and these are the few functions it calls to show it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from playbook.api.jobs import BatchResult
from playbook.core.html import fields_table, table
from playbook.core.waiting import wait_for


@dataclass(frozen=True)
class JobTimes:
    """Summary of a batch: RunPod's delayTime and executionTime (ms) and the client's latency (s)."""

    jobs: int
    completed: int
    delay_p50_ms: float
    delay_p95_ms: float
    execution_p50_ms: float
    execution_p95_ms: float
    latency_p50_s: float
    wall_s: float
    jobs_per_s: float

    def _repr_html_(self) -> str:
        return fields_table(self.__dict__)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def job_times(batch: BatchResult) -> JobTimes:
    done = [r for r in batch.results if r.ok]
    delays = [r.delay_ms for r in done if r.delay_ms is not None]
    execs = [r.execution_ms for r in done if r.execution_ms is not None]
    latencies = [r.latency_s for r in done if r.latency_s is not None]
    return JobTimes(len(batch.results), len(done), percentile(delays, 50), percentile(delays, 95),
                    percentile(execs, 50), percentile(execs, 95),
                    round(statistics.median(latencies), 3) if latencies else float("nan"),
                    round(batch.wall_s, 3), round(batch.jobs_per_s, 3))


def plot_job_times(batch: BatchResult, ax=None):
    """Stacked bars per job: time waiting in the queue (delayTime) and running (executionTime)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    xs = range(len(batch.results))
    delays = [(r.delay_ms or 0) / 1000 for r in batch.results]
    execs = [(r.execution_ms or 0) / 1000 for r in batch.results]
    ax.bar(xs, delays, label="delayTime (queue + cold start)", color="#bbb")
    ax.bar(xs, execs, bottom=delays, label="executionTime", color="#3b7dd8")
    ax.set_xlabel("job (submission order)")
    ax.set_ylabel("seconds")
    ax.set_title("each job's wait (delayTime) and run (executionTime)", fontsize=10)
    ax.legend(loc="upper left")
    return ax


def plot_timeline(samples, ax=None, workers_max: int | None = None):
    """Workers (and queued jobs) over time as steps: the scale-up under load and the return to zero."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    ts = [s.t_s for s in samples]
    ax.step(ts, [s.workers for s in samples], where="post", label="workers", color="#3b7dd8", linewidth=2)
    ax.step(ts, [s.running for s in samples], where="post", label="running a job", color="#2a9d55")
    ax.step(ts, [s.in_queue for s in samples], where="post", label="jobs in queue", color="#999", linestyle="--")
    if workers_max is not None:
        ax.axhline(workers_max, color="#d33", linewidth=0.8, linestyle=":", label="workers max")
    ax.set_xlabel("seconds since the recording began")
    ax.set_ylabel("count")
    ax.set_title("workers (GET /workers) and queued jobs (/health) over time", fontsize=10)
    ax.legend(loc="upper right")
    return ax


def wait_for_workers(platform, endpoint_id: str, count: int = 0, timeout_s: float = 60.0) -> float:
    """Wait until the endpoint has ``count`` workers (0: scaled to zero); returns the seconds waited."""
    start = time.monotonic()
    wait_for(lambda: len(platform.list_workers(endpoint_id)) == count, timeout_s,
             what=f"endpoint {endpoint_id} to reach {count} workers", interval_s=0.1, max_interval_s=0.1)
    return time.monotonic() - start


def cold_starts(client, endpoint_id: str, worker_ids: list[str]):
    """Each worker's cold start by phase (``playbook.monitor.coldstart``), read from its log over REST v2."""
    from playbook.monitor import coldstart, worker_logs

    return [coldstart.breakdown(w, worker_logs.read(client, endpoint_id, w, tail=5000).lines) for w in worker_ids]


def plot_cold_starts(starts, ax=None):
    """Stacked bars per worker: image pull, process start, imports, model load, fitness check, first take."""
    from playbook.monitor.coldstart import plot_breakdown

    return plot_breakdown(starts, ax=ax)


@dataclass(frozen=True)
class WorkerStory:
    """Why a worker served what it served: when it was ready against when the queue ran dry."""

    worker_id: str
    jobs_done: int
    ready_t_s: float | None
    queue_empty_t_s: float | None
    reason: str


def why_idle(workers, timeline) -> list[WorkerStory]:
    """For each worker of a burst: ready (spawn + cold start) before or after the queue ran dry. A
    worker that became ready after the last queued job was taken served nothing: it paid a cold start
    and an idle timeout for a burst that the warm workers had already drained."""
    busy = [s.t_s for s in timeline if s.in_queue > 0]
    empty_t = None
    if busy:
        empty_t = next((s.t_s for s in timeline if s.t_s > busy[-1] and s.in_queue == 0), None)
    out = []
    for w in workers:
        ready = None if w.cold_start_s is None else round(w.spawned_t_s + w.cold_start_s, 3)
        if w.jobs_done:
            reason = f"served {w.jobs_done} job(s)"
        elif ready is None:
            reason = "never became ready (it stopped, or failed, before its first job take)"
        elif empty_t is not None and ready >= empty_t:
            reason = (f"ready at {ready:.1f} s, after the queue ran dry at {empty_t:.1f} s: the warm workers had "
                      "taken every job; it idled until its idle timeout")
        else:
            reason = "ready while jobs waited, but others took them first"
        out.append(WorkerStory(w.id, w.jobs_done, ready, empty_t, reason))
    return out


def stories_table(stories: list[WorkerStory]) -> str:
    from playbook.core.html import table

    return table([[s.worker_id, s.jobs_done, s.ready_t_s, s.queue_empty_t_s, s.reason] for s in stories],
                 header=["worker", "jobs", "ready at s", "queue empty at s", "why"])


def workers_table(workers) -> str:
    """An HTML table of WorkerInfo records (cold start, jobs done, why it stopped)."""
    return table([(w.id, w.cold_start_s, w.jobs_done, w.state, w.stop_reason) for w in workers],
                 header=("worker", "cold start s", "jobs", "state", "stopped because"))


def measurements(results, starts) -> dict:
    """What notebook 06 measured on the journey's endpoint, in seconds, for 07's simulator: each completed
    job's ``executionTime`` and each worker's cold start (spawn to first job take, read from its log)."""
    return {"execution_s": [round(r.execution_ms / 1000, 3) for r in results if r.ok and r.execution_ms is not None],
            "cold_start_s": [round(s.spawn_to_first_take_s, 3) for s in starts if s.spawn_to_first_take_s],
            "source": "06_test_and_monitor"}
