"""Replay a trace on a real endpoint and set the simulator's prediction beside what was measured and billed.

Why: a simulator is only worth its predictions if it agrees with the real thing. The replay submits each
request at its trace time (``/run``), waits for every job, and reads the jobs' ``delayTime``/``executionTime``
and the workers' billed seconds; ``fit`` turns the measurements into simulator settings (execution and
cold-start distributions, the stop time); ``compare`` runs the simulator on the same trace and puts the
figures side by side. On the local platform the billed seconds come from its billing ledger (the same
numbers ``GET /v2/billing/serverless`` sums).
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, replace

from playbook.api.jobs import JobClient, JobResult
from playbook.api.pricing import billed_seconds
from playbook.api.scaling import Policy
from playbook.core.html import table
from playbook.cost.simulate import Dist, SimResult, SimSettings, simulate
from playbook.cost.traces import Trace
from playbook.monitor.metrics import percentile


@dataclass
class Measured:
    """A replayed trace: every job's result and submit time (monotonic), and the workers' billed spans."""

    trace: Trace
    results: list[JobResult]
    submitted_s: list[float]
    worker_spans: list[tuple[float, float]]  # (start, stop) wall-clock seconds per worker
    cold_starts_s: list[float]
    stop_delays_s: list[float]  # per idle-stopped worker: exit minus (last job end + idle timeout)
    started_s: float = 0.0  # wall clock (epoch) when the replay began: workers started since are its own
    cold_start_spans: list[tuple[float, float]] = ()  # (spawned, ready) per worker that became ready

    @property
    def latencies_s(self) -> list[float]:
        return [((r.delay_ms or 0) + (r.execution_ms or 0)) / 1000 for r in self.results if r.ok]

    @property
    def billed_s(self) -> int:
        return sum(billed_seconds(a, b) for a, b in self.worker_spans)


def replay(trace: Trace, jobs: JobClient, job_input: dict, timeout_s: float = 300.0) -> list[tuple[float, str]]:
    """Submit one job per arrival at its trace time; returns (submit time, job id) pairs."""
    submitted: list[tuple[float, str]] = []
    t0 = time.monotonic()
    for at in trace.arrivals_s:
        pause = t0 + at - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        submitted.append((time.monotonic(), jobs.run(job_input)))
    results: list[JobResult | None] = [None] * len(submitted)

    def wait(i: int, job_id: str) -> None:
        results[i] = jobs.wait(job_id, timeout_s=timeout_s)

    threads = [threading.Thread(target=wait, args=(i, job_id)) for i, (_, job_id) in enumerate(submitted)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return [(s, r) for (s, _), r in zip(submitted, results, strict=True)]


def replay_local(platform, endpoint_id: str, trace: Trace, job_input: dict, timeout_s: float = 300.0) -> Measured:
    """Replay on the local platform and read its billing ledger and worker records once every worker stopped.

    ``platform`` is a ``LocalPlatform`` or a ``RemotePlatform`` (one running in another process). The
    endpoint may have served jobs before (an earlier notebook's): the replay waits until its workers are
    down to ``workers.min``, and counts only the workers started after it began."""
    from playbook.core.waiting import wait_for

    cfg = platform.get_endpoint(endpoint_id)
    jobs = JobClient(platform.target, endpoint_id)
    settle_s = cfg.idle_timeout_s + 60
    wait_for(lambda: len(platform.list_workers(endpoint_id)) <= cfg.workers_min, timeout_s=settle_s,
             what="the endpoint's earlier workers to stop before the replay")
    started_s = time.time()
    clock = started_s - time.monotonic()  # monotonic to epoch seconds, in this process

    def mine() -> list:
        return [e for e in platform.billed_workers(endpoint_id) if e.start_s >= started_s]

    done = replay(trace, jobs, job_input, timeout_s)
    wait_for(lambda: all(e.stop_s is not None for e in mine()) and
             len(platform.list_workers(endpoint_id)) <= cfg.workers_min, timeout_s=settle_s,
             what="the endpoint's workers to stop after the replay")
    entries = {e.worker_id: e for e in mine()}
    infos = [w for w in platform.list_workers(endpoint_id, include_exited=True) if w.id in entries]
    last_end: dict[str, float] = {}  # epoch seconds each worker finished its last job
    for submitted, result in done:
        if result.worker_id and result.delay_ms is not None:
            end = clock + submitted + ((result.delay_ms or 0) + (result.execution_ms or 0)) / 1000
            last_end[result.worker_id] = max(last_end.get(result.worker_id, 0.0), end)
    stop_delays = [entries[w.id].stop_s - last_end[w.id] - cfg.idle_timeout_s for w in infos
                   if w.stop_reason == "idle timeout" and entries[w.id].stop_s is not None and w.id in last_end]
    ready = [w for w in infos if w.cold_start_s is not None]
    return Measured(trace, [r for _, r in done], [s for s, _ in done],
                    [(e.start_s, e.stop_s) for e in entries.values()],
                    [w.cold_start_s for w in ready], [max(0.0, d) for d in stop_delays], started_s,
                    cold_start_spans=[(w.spawned_t_s, w.spawned_t_s + w.cold_start_s) for w in ready])


def start_contention(spans: list[tuple[float, float]]) -> tuple[float, list[float]]:
    """How much workers starting together slow each other's cold start: a least-squares line
    ``cold = a + b * others`` (others = workers whose start overlaps this one's), ``b / a`` as the stretch per
    other worker (never below 0), and each cold start with the stretch taken out (the base to draw from)."""
    others = [sum(1 for j, (s2, r2) in enumerate(spans) if j != i and s2 < r and s < r2)
              for i, (s, r) in enumerate(spans)]
    colds = [r - s for s, r in spans]
    if len(spans) < 3 or len(set(others)) < 2:
        return 0.0, colds
    mean_k, mean_c = statistics.mean(others), statistics.mean(colds)
    slope = (sum((k - mean_k) * (c - mean_c) for k, c in zip(others, colds, strict=True))
             / sum((k - mean_k) ** 2 for k in others))
    intercept = mean_c - slope * mean_k
    stretch = max(0.0, slope / intercept) if intercept > 0 else 0.0
    return stretch, [c / (1 + stretch * k) for c, k in zip(colds, others, strict=True)]


def fit(measured: Measured, policy: Policy, usd_per_s: float, take_gap_s: float = 1.0, tick_s: float = 0.1,
        execution_timeout_s: float = 600.0) -> SimSettings:
    """Simulator settings from a measured run: execution and cold-start distributions (empirical), how much
    workers starting together slow each other (``start_contention``), the stop delay (median), the SDK's pause
    between job takes and the scaler's tick."""
    executions = [(r.execution_ms or 0) / 1000 for r in measured.results if r.ok]
    contention, base_colds = start_contention(list(measured.cold_start_spans))
    colds = base_colds if measured.cold_start_spans else measured.cold_starts_s
    return SimSettings(policy=policy, execution_s=Dist.fit(executions, "empirical"),
                       cold_start_s=Dist.fit(colds, "empirical") if colds else Dist("constant", 1.0),
                       start_contention=contention,
                       shutdown_s=statistics.median(measured.stop_delays_s) if measured.stop_delays_s else 0.0,
                       take_gap_s=take_gap_s, tick_s=tick_s, usd_per_s=usd_per_s,
                       execution_timeout_s=execution_timeout_s)


@dataclass(frozen=True)
class Comparison:
    trace: str
    predicted_billed_s: float
    measured_billed_s: int
    predicted_p50_s: float
    measured_p50_s: float
    predicted_p95_s: float
    measured_p95_s: float
    predicted_cold_starts: float
    measured_cold_starts: int

    @property
    def billed_error(self) -> float:
        return self.predicted_billed_s / self.measured_billed_s - 1 if self.measured_billed_s else 0.0

    @property
    def p95_error(self) -> float:
        return self.predicted_p95_s / self.measured_p95_s - 1 if self.measured_p95_s else 0.0

    def rows(self) -> list[list]:
        def error(predicted: float, measured: float) -> float:
            return predicted / measured - 1 if measured else 0.0

        return [["billed worker-seconds", self.predicted_billed_s, self.measured_billed_s, self.billed_error],
                ["p50 latency (s)", self.predicted_p50_s, self.measured_p50_s,
                 error(self.predicted_p50_s, self.measured_p50_s)],
                ["p95 latency (s)", self.predicted_p95_s, self.measured_p95_s, self.p95_error],
                ["cold starts", self.predicted_cold_starts, self.measured_cold_starts,
                 error(self.predicted_cold_starts, self.measured_cold_starts)]]

    def _repr_html_(self) -> str:
        shown = [[name, f"{predicted:.1f}", f"{measured:.1f}" if isinstance(measured, float) else measured,
                  f"{err:+.0%}"] for name, predicted, measured, err in self.rows()]
        return table(shown, header=["figure", "simulator", "measured", "error"],
                     caption=f"simulator against the local platform: {self.trace}")


def compare(measured: Measured, settings: SimSettings, seeds: int = 5) -> Comparison:
    """The simulator on the measured trace (mean over ``seeds`` draws of the fitted distributions)."""
    runs: list[SimResult] = [simulate(measured.trace, replace(settings, seed=s)) for s in range(seeds)]
    lat = measured.latencies_s
    return Comparison(measured.trace.name, statistics.mean(r.billed_s for r in runs), measured.billed_s,
                      statistics.mean(r.p50_s for r in runs), percentile(lat, 50),
                      statistics.mean(r.p95_s for r in runs), percentile(lat, 95),
                      statistics.mean(r.cold_starts for r in runs), len(measured.worker_spans))


@dataclass(frozen=True)
class WorkerBill:
    """One local worker's line on the bill, with the jobs it served."""

    worker_id: str
    billed_s: int
    usd: float
    jobs_done: int
    cold_start_s: float | None
    stop_reason: str | None


def worker_bills(platform, endpoint_id: str, since_s: float = 0.0) -> list[WorkerBill]:
    """Every worker of a local endpoint started at or after ``since_s`` (epoch; e.g. ``Measured.started_s``):
    billed seconds and dollars (the ledger) beside the jobs it served."""
    infos = {w.id: w for w in platform.list_workers(endpoint_id, include_exited=True)}
    out = []
    for entry in platform.billed_workers(endpoint_id):
        if entry.start_s < since_s:
            continue
        info = infos.get(entry.worker_id)
        out.append(WorkerBill(entry.worker_id, entry.billed_s(), entry.usd(), info.jobs_done if info else 0,
                              info.cold_start_s if info else None, info.stop_reason if info else None))
    return out


def bills_table(bills: list[WorkerBill]) -> str:
    return table([(b.worker_id, b.billed_s, f"{b.usd:.6f}", b.jobs_done,
                   None if b.cold_start_s is None else f"{b.cold_start_s:.1f}", b.stop_reason) for b in bills],
                 header=["worker", "billed s", "USD", "jobs served", "cold start s", "stopped because"],
                 caption="what each worker cost")


def bills_sentence(bills: list[WorkerBill]) -> str:
    """What the workers billed, and whether one served no job, from the bills themselves."""
    total_s, total_usd = sum(b.billed_s for b in bills), sum(b.usd for b in bills)
    idle = [b for b in bills if b.jobs_done == 0]
    head = f"{len(bills)} worker(s) billed {total_s} s, ${total_usd:.6f}"
    if not idle:
        return f"{head}; every one served at least one job, so none was started for nothing this time."
    names = ", ".join(b.worker_id for b in idle)
    return (f"{head}; {len(idle)} served no job ({names}) and still billed "
            f"{sum(b.billed_s for b in idle)} s, ${sum(b.usd for b in idle):.6f}: the price of scaling out.")
