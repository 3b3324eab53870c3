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

    def shown(self) -> dict:
        """The figures as a reader wants them: dollars, seconds rounded, shares as percentages, units named."""
        from playbook.cost.traces import duration_text

        return {"jobs": self.jobs, "trace length": duration_text(self.duration_s), "cost": f"${self.usd:.2f}",
                "cost per day": f"${self.usd_per_day:.2f}", "cost per 1000 jobs": f"${self.usd_per_1k:.3f}",
                "billed worker time": f"{self.billed_s:,} s", "busy (executing) time": f"{self.busy_s:,.0f} s",
                "idle share of the spend": f"{self.idle_share:.0%}", "latency p50": f"{self.p50_s:.1f} s",
                "latency p95": f"{self.p95_s:.1f} s", "latency p99": f"{self.p99_s:.1f} s",
                "mean wait": f"{self.mean_wait_s:.1f} s", "cold starts": self.cold_starts,
                "jobs that waited for a cold start": f"{self.cold_start_rate:.1%}", "timed out": self.timed_out,
                "utilisation": f"{self.utilisation:.0%}",
                "simulated in": f"{self.wall_s:.2f} s ({self.events:,} events)"}

    def _repr_html_(self) -> str:
        return fields_table(self.shown(), caption="simulated")


# -- the simulation -------------------------------------------------------------------------------------

ARRIVE, READY, DONE, FREE, CHECK, STOPPED = range(6)  # the events, in the dispatch table's order


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
    return Simulation(trace, settings).run()


class Simulation:
    """One trace through one endpoint, event by event.

    The events sit on a heap as ``(time, sequence, kind, data)`` (ties leave in the order they were pushed).
    ``run`` pops them and hands each to its method through ``handlers``, the dispatch table:

    * ``arrive`` (ARRIVE, a job): the job joins the queue, with its execution time;
    * ``ready`` (READY, a worker and its version): a cold start ends, the worker asks for a job;
    * ``done`` (DONE, a worker and whether it finished in time): a job ends; a timed-out worker stops, the
      others ask for the next job after the SDK's ``take_gap_s`` (a FREE event when that is later);
    * ``free`` (FREE, a worker): the take gap is over, the worker asks for a job;
    * ``check`` (CHECK): a moment when a scaling rule could fire (planned by ``plan_check``);
    * ``stopped`` (STOPPED, a worker): it has fully stopped; its billed span ends.

    Every event but ``stopped`` (and a stale check or a superseded READY) then ``react``s: queued jobs go to
    free workers, and the scaler decides (``scale``) or the next moment it could is planned (``plan_check``).
    """

    def __init__(self, trace: Trace, settings: SimSettings) -> None:
        self.trace, self.settings, self.policy = trace, settings, settings.policy
        self.rng = random.Random(settings.seed)
        self.heap: list = []
        self._seq = itertools.count()
        self._worker_ids = itertools.count(1)
        self.queue: deque[int] = deque()  # job indexes, first come first served
        self.queued_at: dict[int, float] = {}
        self.job_exec: dict[int, float] = {}  # execution seconds, drawn on arrival
        self.waiting_for_cold: set[int] = set()  # jobs counted as waiting for a cold start
        self.takers: deque[_Worker] = deque()  # free, ready workers, longest waiting first
        self.workers: dict[str, _Worker] = {}  # active workers (not stopping)
        self.spans: list[tuple[float, float]] = []  # (start, fully stopped) per worker
        self.latencies: list[float] = []
        self.waits: list[float] = []
        self.busy_s = 0.0
        self.cold_starts = self.cold_jobs = self.timed_out = self.events = 0
        self.pending_check = math.inf  # the time of the latest CHECK planned; older ones are stale
        self.handlers = {ARRIVE: self.arrive, READY: self.ready, DONE: self.done, FREE: self.free,
                         CHECK: self.check, STOPPED: self.stopped}

    def push(self, t: float, kind: int, data=None) -> None:
        heapq.heappush(self.heap, (t, next(self._seq), kind, data))

    def run(self) -> SimResult:
        t_wall = time.perf_counter()
        handlers, heap, pop = self.handlers, self.heap, heapq.heappop
        for i, t in enumerate(self.trace.arrivals_s):
            self.push(t, ARRIVE, i)
        self.scale(0.0)
        now = 0.0
        while heap:
            now, _, kind, data = pop(heap)
            self.events += 1
            handlers[kind](now, data)
        for w in self.workers.values():  # only reached when nothing was ever scheduled
            self.spans.append((w.start_s, max(now, self.trace.duration_s)))
        return self.result(now, time.perf_counter() - t_wall)

    # -- the events ---------------------------------------------------------------------------------------

    def arrive(self, now: float, job: int) -> None:
        given = self.trace.execution_s
        self.job_exec[job] = given[job] if given is not None else self.settings.execution_s.draw(self.rng)
        self.queue.append(job)
        self.queued_at[job] = now
        self.react(now)

    def ready(self, now: float, data: tuple[_Worker, int]) -> None:
        w, version = data
        if version != w.ready_version:
            return  # superseded: a worker that started since stretched this cold start
        self.make_free(w, now)
        self.react(now)

    def done(self, now: float, data: tuple[_Worker, bool]) -> None:
        w, ok = data
        w.job = None
        if w.id in self.workers:
            if not ok:
                self.stop_worker(w, now)
            else:
                w.state, w.last_active_s = "idle", now
                if now >= w.next_take_s:
                    self.make_free(w, now)
                else:
                    self.push(w.next_take_s, FREE, w)
        self.react(now)

    def free(self, now: float, w: _Worker) -> None:
        self.make_free(w, now)
        self.react(now)

    def check(self, now: float, _data=None) -> None:
        if now < self.pending_check:
            return  # a stale check
        self.react(now, scale=True)

    def stopped(self, now: float, w: _Worker) -> None:
        w.stop_s = now
        self.spans.append((w.start_s, now))

    # -- what every event leads to ------------------------------------------------------------------------

    def react(self, now: float, scale: bool = False) -> None:
        """Give queued jobs to free workers; ask the scaler when jobs wait, a check is due or min workers are
        missing, else plan when a rule could next fire; at the trace's end, stop what min workers keep."""
        self.dispatch(now)
        if scale or self.queue or len(self.workers) < self.policy.workers_min:
            self.scale(now)
            self.dispatch(now)
        else:  # nothing waits, no rule is due: the policy could only stop idle workers later
            self.plan_check(now)
        if not self.heap and self.workers:  # the trace is over: stop what min workers keep, at its end
            end = max(now, self.trace.duration_s)
            for w in list(self.workers.values()):
                self.stop_worker(w, end)

    def dispatch(self, now: float) -> None:
        """Queued jobs to free workers, first come first served, the longest waiting worker first."""
        s, queue, takers = self.settings, self.queue, self.takers
        while queue and takers:
            w = takers.popleft()
            job = queue.popleft()
            wait = now - self.queued_at.pop(job)
            self.waiting_for_cold.discard(job)
            run = self.job_exec[job]
            w.state, w.job, w.last_active_s = "running", job, now
            self.waits.append(wait)
            if run > s.execution_timeout_s:
                self.timed_out += 1
                self.busy_s += s.execution_timeout_s
                self.latencies.append(wait + s.execution_timeout_s)
                self.push(now + s.execution_timeout_s, DONE, (w, False))
            else:
                self.busy_s += run
                self.latencies.append(wait + run)
                self.push(now + run, DONE, (w, True))
            w.next_take_s = now + s.take_gap_s

    def snapshot(self) -> Snapshot:
        workers = self.workers.values()
        views = [WorkerView(w.id, w.state, w.last_active_s, w.job is not None) for w in workers]
        return Snapshot(views, in_queue=len(self.queue), in_progress=sum(w.job is not None for w in workers),
                        oldest_queued_s=self.queued_at[self.queue[0]] if self.queue else None)

    def scale(self, now: float) -> None:
        """The scaler's decision (``scaling.decide``), carried out; the jobs no free worker can take are
        counted as waiting for a cold start."""
        decision = decide(self.policy, self.snapshot(), now)
        for _ in range(decision.start):
            self.start_worker(now)
        if decision.start:
            free = sum(w.state in ("initializing", "idle") for w in self.workers.values()) - decision.start
            for job in list(self.queue)[max(0, free):]:
                if job not in self.waiting_for_cold:
                    self.waiting_for_cold.add(job)
                    self.cold_jobs += 1
        for worker_id in decision.stop:
            self.stop_worker(self.workers[worker_id], now)
        self.plan_check(now)

    def plan_check(self, now: float) -> None:
        """Schedule a check for when a rule could fire next without another event (the same rules as
        ``scaling.next_expiry_s`` and the QUEUE_DELAY threshold, without building a snapshot)."""
        policy, workers, nxt = self.policy, self.workers, math.inf
        if len(workers) > policy.workers_min:
            idle = [w.last_active_s for w in workers.values() if w.state == "idle" and w.job is None]
            if idle:
                nxt = min(idle) + policy.idle_timeout_s
        if self.queue and policy.scaler_type == "QUEUE_DELAY" and len(workers) < policy.workers_max:
            nxt = min(nxt, self.queued_at[self.queue[0]] + policy.scaler_value)
        if now < nxt < math.inf:  # a rule already due that did not act waits for another event
            at = self.on_tick(nxt)
            if at < self.pending_check or self.pending_check <= now:
                self.pending_check = at
                self.push(at, CHECK)

    def on_tick(self, t: float) -> float:
        tick = self.settings.tick_s
        return t if tick <= 0 else math.ceil(round(t / tick, 9)) * tick

    # -- workers ------------------------------------------------------------------------------------------

    def start_worker(self, now: float) -> None:
        s = self.settings
        w = _Worker(f"w{next(self._worker_ids)}", now, last_active_s=now)
        self.cold_starts += 1
        fast = s.flashboot_p > 0 and self.rng.random() < s.flashboot_p
        w.cold_s = (s.flashboot_s if fast else s.cold_start_s).draw(self.rng)
        if s.start_contention > 0:
            for other in self.workers.values():
                if other.state == "initializing":
                    other.overlaps += 1
                    w.overlaps += 1
                    self.schedule_ready(other)
        self.workers[w.id] = w
        self.schedule_ready(w)

    def schedule_ready(self, w: _Worker) -> None:
        """(Re)schedule the end of its cold start, stretched by the workers starting with it."""
        w.ready_version += 1
        stretch = 1 + self.settings.start_contention * w.overlaps
        self.push(w.start_s + w.cold_s * stretch, READY, (w, w.ready_version))

    def make_free(self, w: _Worker, now: float) -> None:
        if w.id in self.workers and w.job is None and w.state in ("initializing", "idle") and w not in self.takers:
            if w.state == "initializing":
                w.state, w.last_active_s = "idle", now
            self.takers.append(w)

    def stop_worker(self, w: _Worker, now: float) -> None:
        if w in self.takers:
            self.takers.remove(w)
        w.state = "stopping"
        del self.workers[w.id]
        self.push(now + self.settings.shutdown_s, STOPPED, w)

    # -- the result ---------------------------------------------------------------------------------------

    def result(self, now: float, wall_s: float) -> SimResult:
        billed = sum(billed_seconds(a, b) for a, b in self.spans)
        usd = billed * self.settings.usd_per_s
        jobs = len(self.trace.arrivals_s)
        duration = max(self.trace.duration_s, now, 1e-9)
        busy_s, latencies = self.busy_s, self.latencies
        return SimResult(
            jobs=jobs, duration_s=duration, usd=usd, usd_per_day=usd / duration * 86_400,
            usd_per_1k=usd / jobs * 1000 if jobs else math.nan, billed_s=billed, busy_s=busy_s,
            idle_share=max(0.0, 1 - busy_s / billed) if billed else 0.0,
            p50_s=percentile(latencies, 50), p95_s=percentile(latencies, 95), p99_s=percentile(latencies, 99),
            mean_wait_s=sum(self.waits) / len(self.waits) if self.waits else math.nan,
            cold_starts=self.cold_starts, cold_start_rate=self.cold_jobs / jobs if jobs else 0.0,
            timed_out=self.timed_out, utilisation=busy_s / billed if billed else 0.0, events=self.events,
            wall_s=wall_s, latencies_s=latencies, worker_spans=sorted(self.spans))
