"""A discrete-event simulation of one serverless endpoint: a queue, workers (starting -> idle -> running ->
stopped), the scaler's policy, per-second billing. It turns endpoint settings and a traffic trace into
predicted dollars and latency before a deploy.

Why a plain event heap rather than simpy: the model is small (arrivals, worker ready, job done, scaler
check) and a heap keeps 24 h of trace near a second. The scaler's decision is ``playbook.api.scaling.decide``,
the very function the local platform's scaler calls, evaluated at every event and at the moments a rule
could next fire (a queue delay reached, an idle timeout expiring), rounded up to the scaler's tick.

What it models, and how it maps to RunPod (docs/runpod-facts.md §7):
* a worker is billed from its start until it has fully stopped (``shutdown_s`` after the stop), rounded up
  to the second; its cold start (start to first job take) is drawn from ``cold_start_s``; with FlashBoot
  a fraction ``flashboot_p`` of starts draws from the faster ``flashboot_s`` instead;
* workers that start together share what they start on: a cold start is stretched by ``start_contention``
  for every other worker whose start overlaps it (a worker starting while it is still starting stretches
  both); 0 on RunPod, where each worker has its own host; on the local platform all workers share one
  machine's CPUs, and ``replay.fit`` measures it the same way;
* jobs are served first come, first served by the worker that has waited longest for one (job take is a
  long poll); ``take_gap_s`` is the SDK's pause after taking a job before it asks for the next;
* a job running past ``execution_timeout_s`` is TIMED_OUT and its worker stopped.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace

from playbook.api.pricing import billed_seconds
from playbook.api.scaling import Policy, Snapshot, WorkerView, decide
from playbook.core.html import fields_table
from playbook.cost.traces import Trace
from playbook.monitor.metrics import percentile

# -- distributions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    """A duration distribution in seconds: ``constant``, ``exponential`` (mean), ``lognormal`` (median and
    sigma of the log) or ``empirical`` (resampled from measured values)."""

    kind: str = "constant"
    value: float = 0.0  # constant value, exponential mean, or lognormal median
    sigma: float = 0.0
    samples: tuple[float, ...] = ()

    def draw(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.value
        if self.kind == "exponential":
            return rng.expovariate(1 / self.value) if self.value > 0 else 0.0
        if self.kind == "lognormal":
            return self.value * math.exp(rng.gauss(0, self.sigma))
        if self.kind == "empirical":
            return rng.choice(self.samples)
        raise ValueError(f"unknown distribution kind {self.kind!r}: constant, exponential, lognormal, empirical")

    @property
    def mean(self) -> float:
        if self.kind == "lognormal":
            return self.value * math.exp(self.sigma ** 2 / 2)
        if self.kind == "empirical":
            return sum(self.samples) / len(self.samples)
        return self.value

    @classmethod
    def fit(cls, values, kind: str = "lognormal") -> Dist:
        """Fit measured durations (seconds): lognormal by the moments of the logs, or empirical."""
        values = [float(v) for v in values if v is not None and v > 0]
        if not values:
            raise ValueError("no positive measurements to fit a distribution to")
        if kind == "empirical":
            return cls("empirical", samples=tuple(values))
        logs = [math.log(v) for v in values]
        mu = sum(logs) / len(logs)
        sigma = math.sqrt(sum((x - mu) ** 2 for x in logs) / len(logs)) if len(logs) > 1 else 0.0
        return cls("lognormal", math.exp(mu), sigma)


# -- settings and results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimSettings:
    """The endpoint (policy), the worker's behaviour and its price."""

    policy: Policy = field(default_factory=Policy)
    execution_s: Dist = field(default_factory=lambda: Dist("constant", 1.0))
    cold_start_s: Dist = field(default_factory=lambda: Dist("constant", 10.0))
    flashboot_p: float = 0.0
    flashboot_s: Dist = field(default_factory=lambda: Dist("constant", 2.0))
    execution_timeout_s: float = 600.0
    usd_per_s: float = 0.00016
    tick_s: float = 0.0  # the scaler's period (the local platform: 0.1 s); 0 = continuous
    take_gap_s: float = 1.0  # the SDK's pause after taking a job before asking for the next (concurrency 1)
    shutdown_s: float = 0.0  # from the stop decision to the worker fully stopped (still billed)
    start_contention: float = 0.0  # a cold start x (1 + this x other workers starting at the same time)
    seed: int = 0

    def with_policy(self, **changes) -> SimSettings:
        return replace(self, policy=replace(self.policy, **changes))


@dataclass
class SimResult:
    """What a simulated trace costs and how long callers waited. Latency = delay + execution."""

    jobs: int
    duration_s: float
    usd: float
    usd_per_day: float
    usd_per_1k: float
    billed_s: int
    busy_s: float
    idle_share: float  # share of the spend during which no job executed
    p50_s: float
    p95_s: float
    p99_s: float
    mean_wait_s: float
    cold_starts: int
    cold_start_rate: float  # share of jobs that waited for a worker to start
    timed_out: int
    utilisation: float  # busy seconds / billed seconds
    events: int
    wall_s: float
    latencies_s: list = field(default_factory=list, repr=False)
    worker_spans: list = field(default_factory=list, repr=False)  # (start_s, stop_s) per worker

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("latencies_s", "worker_spans")}

    def _repr_html_(self) -> str:
        return fields_table(self.summary(), caption="simulated")


# -- the simulation -------------------------------------------------------------------------------------

ARRIVE, READY, DONE, FREE, CHECK, STOPPED = range(6)


@dataclass
class _Worker:
    id: str
    start_s: float
    state: str = "initializing"
    last_active_s: float = 0.0
    job: int | None = None
    stop_s: float | None = None
    next_take_s: float = 0.0  # the SDK asks for its next job no earlier than this
    cold_s: float = 0.0  # its cold start alone (drawn at start)
    overlaps: int = 0  # other workers whose start overlapped its own (start_contention)
    ready_version: int = 0  # a READY event of an older version was superseded by a stretch


def simulate(trace: Trace, settings: SimSettings) -> SimResult:
    """Run ``trace`` through an endpoint with ``settings``; see the module docstring for the model."""
    t_wall = time.perf_counter()
    rng = random.Random(settings.seed)
    policy = settings.policy
    heap: list = []
    seq = itertools.count()

    def push(t: float, kind: int, data=None) -> None:
        heapq.heappush(heap, (t, next(seq), kind, data))

    arrivals = trace.arrivals_s
    exec_given = trace.execution_s
    for i, t in enumerate(arrivals):
        push(t, ARRIVE, i)
    queue: deque[int] = deque()
    queued_at: dict[int, float] = {}
    waiting_for_cold: set[int] = set()
    takers: deque[_Worker] = deque()  # free, ready workers, longest waiting first
    workers: dict[str, _Worker] = {}
    spans: list[tuple[float, float]] = []
    latencies: list[float] = []
    waits: list[float] = []
    busy_s = 0.0
    cold_starts = cold_jobs = timed_out = events = 0
    job_exec: dict[int, float] = {}
    pending_check = [math.inf]
    worker_ids = itertools.count(1)

    def snapshot() -> Snapshot:
        views = [WorkerView(w.id, w.state, w.last_active_s, w.job is not None) for w in workers.values()]
        return Snapshot(views, in_queue=len(queue), in_progress=sum(w.job is not None for w in workers.values()),
                        oldest_queued_s=queued_at[queue[0]] if queue else None)

    def on_tick(t: float) -> float:
        if settings.tick_s <= 0:
            return t
        return math.ceil(round(t / settings.tick_s, 9)) * settings.tick_s

    def schedule_ready(w: _Worker) -> None:
        w.ready_version += 1
        push(w.start_s + w.cold_s * (1 + settings.start_contention * w.overlaps), READY, (w, w.ready_version))

    def start_worker(now: float) -> None:
        nonlocal cold_starts
        w = _Worker(f"w{next(worker_ids)}", now, last_active_s=now)
        cold_starts += 1
        fast = settings.flashboot_p > 0 and rng.random() < settings.flashboot_p
        w.cold_s = (settings.flashboot_s if fast else settings.cold_start_s).draw(rng)
        if settings.start_contention > 0:
            for other in workers.values():
                if other.state == "initializing":
                    other.overlaps += 1
                    w.overlaps += 1
                    schedule_ready(other)
        workers[w.id] = w
        schedule_ready(w)

    def stop_worker(w: _Worker, now: float) -> None:
        if w in takers:
            takers.remove(w)
        w.state = "stopping"
        del workers[w.id]
        push(now + settings.shutdown_s, STOPPED, w)

    def dispatch(now: float) -> None:
        nonlocal busy_s, timed_out
        while queue and takers:
            w = takers.popleft()
            job = queue.popleft()
            wait = now - queued_at.pop(job)
            if job in waiting_for_cold:
                waiting_for_cold.discard(job)
            run = job_exec[job]
            w.state, w.job, w.last_active_s = "running", job, now
            waits.append(wait)
            if run > settings.execution_timeout_s:
                timed_out += 1
                busy_s += settings.execution_timeout_s
                latencies.append(wait + settings.execution_timeout_s)
                push(now + settings.execution_timeout_s, DONE, (w, False))
            else:
                busy_s += run
                latencies.append(wait + run)
                push(now + run, DONE, (w, True))
            w.next_take_s = now + settings.take_gap_s

    def scale(now: float) -> None:
        nonlocal cold_jobs
        decision = decide(policy, snapshot(), now)
        for _ in range(decision.start):
            start_worker(now)
        if decision.start:  # the jobs no free worker can take wait for a cold start
            free = sum(w.state in ("initializing", "idle") for w in workers.values()) - decision.start
            for job in list(queue)[max(0, free):]:
                if job not in waiting_for_cold:
                    waiting_for_cold.add(job)
                    cold_jobs += 1
        for worker_id in decision.stop:
            stop_worker(workers[worker_id], now)
        plan_check(now)

    def plan_check(now: float) -> None:
        """Schedule a check for when a rule could fire next without another event (the same rules as
        ``scaling.next_expiry_s`` and the QUEUE_DELAY threshold, without building a snapshot)."""
        nxt = math.inf
        if len(workers) > policy.workers_min:
            idle = [w.last_active_s for w in workers.values() if w.state == "idle" and w.job is None]
            if idle:
                nxt = min(idle) + policy.idle_timeout_s
        if queue and policy.scaler_type == "QUEUE_DELAY" and len(workers) < policy.workers_max:
            nxt = min(nxt, queued_at[queue[0]] + policy.scaler_value)
        if now < nxt < math.inf:  # a rule already due that did not act waits for another event
            at = on_tick(nxt)
            if at < pending_check[0] or pending_check[0] <= now:
                pending_check[0] = at
                push(at, CHECK)

    def make_free(w: _Worker, now: float) -> None:
        if w.id in workers and w.job is None and w.state in ("initializing", "idle") and w not in takers:
            if w.state == "initializing":
                w.state, w.last_active_s = "idle", now
            takers.append(w)

    scale(0.0)
    now = 0.0
    while heap:
        now, _, kind, data = heapq.heappop(heap)
        events += 1
        if kind == ARRIVE:
            job_exec[data] = exec_given[data] if exec_given is not None else settings.execution_s.draw(rng)
            queue.append(data)
            queued_at[data] = now
        elif kind == READY:
            w, version = data
            if version != w.ready_version:
                continue  # superseded: a worker that started since stretched this cold start
            make_free(w, now)
        elif kind == DONE:
            w, ok = data
            w.job = None
            if w.id in workers:
                if not ok:
                    stop_worker(w, now)
                else:
                    w.state, w.last_active_s = "idle", now
                    if now >= w.next_take_s:
                        make_free(w, now)
                    else:
                        push(w.next_take_s, FREE, w)
        elif kind == FREE:
            make_free(data, now)
        elif kind == STOPPED:
            data.stop_s = now
            spans.append((data.start_s, now))
            continue
        if kind == CHECK and now < pending_check[0]:
            continue  # a stale check
        dispatch(now)
        if queue or kind == CHECK or len(workers) < policy.workers_min:
            scale(now)
            dispatch(now)
        else:  # nothing waits, no rule is due: the policy could only stop idle workers later
            plan_check(now)
        if not heap and workers:  # the trace is over: stop what min workers keep, at the trace's end
            end = max(now, trace.duration_s)
            for w in list(workers.values()):
                stop_worker(w, end)
    for w in workers.values():  # only reached when nothing was ever scheduled
        spans.append((w.start_s, max(now, trace.duration_s)))
    billed = sum(billed_seconds(a, b) for a, b in spans)
    usd = billed * settings.usd_per_s
    jobs = len(arrivals)
    duration = max(trace.duration_s, now, 1e-9)
    return SimResult(
        jobs=jobs, duration_s=duration, usd=usd, usd_per_day=usd / duration * 86_400,
        usd_per_1k=usd / jobs * 1000 if jobs else math.nan, billed_s=billed, busy_s=busy_s,
        idle_share=max(0.0, 1 - busy_s / billed) if billed else 0.0,
        p50_s=percentile(latencies, 50), p95_s=percentile(latencies, 95), p99_s=percentile(latencies, 99),
        mean_wait_s=sum(waits) / len(waits) if waits else math.nan, cold_starts=cold_starts,
        cold_start_rate=cold_jobs / jobs if jobs else 0.0, timed_out=timed_out,
        utilisation=busy_s / billed if billed else 0.0, events=events, wall_s=time.perf_counter() - t_wall,
        latencies_s=latencies, worker_spans=sorted(spans))
