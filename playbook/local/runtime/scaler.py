"""The scaler: per endpoint, workers_min..workers_max workers, started when jobs wait (RunPod's
QUEUE_DELAY and REQUEST_COUNT types) and stopped after the idle timeout, so an idle endpoint costs
nothing. It also enforces the execution timeout, notices dead workers and expires old results.

Why a periodic tick rather than events only: process exits, timeouts and idle timeouts are all
"something did not happen" conditions; a 0.1 s tick sees them with bounded delay and stays simple.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass

from playbook.api.gpus import default_catalog
from playbook.api.scaling import Policy, Snapshot, WorkerView, decide
from playbook.local.runtime import faults, rules
from playbook.local.runtime.billing import price_of
from playbook.local.runtime.state import (
    IN_PROGRESS,
    RUN_RETENTION_S,
    RUNSYNC_RETENTION_S,
    TIMED_OUT,
    EndpointState,
    Worker,
)

log = logging.getLogger("playbook.local")
TICK_S = 0.1
START_FAILURES_BEFORE_GIVING_UP = 3
EXPIRE_EVERY_S = 5.0
FAULT_LOG_EVERY_S = 10.0
FAIL_QUEUE_AFTER_S = 30.0


@dataclass(frozen=True)
class TimelineSample:
    """Worker and job counts of one endpoint at ``t_s`` seconds after the platform started."""

    t_s: float
    endpoint_id: str
    workers: int
    initializing: int
    idle: int
    running: int
    in_queue: int
    in_progress: int

    def to_dict(self) -> dict:
        return asdict(self)


def snapshot(ep: EndpointState, now: float) -> Snapshot:
    """What the scaling policy sees of one endpoint: its active workers and its queue."""
    workers = [WorkerView(w.id, w.state, w.last_active, busy=bool(w.jobs)) for w in ep.workers.values() if w.active]
    first = ep.jobs.get(ep.queue[0]) if ep.queue else None
    return Snapshot(workers, in_queue=len(ep.queue),
                    in_progress=sum(j.status == IN_PROGRESS for j in ep.jobs.values()),
                    oldest_queued_s=first.created if first is not None else (now if ep.queue else None))


class Scaler:
    def __init__(self, platform) -> None:
        self.platform = platform
        self.engine = platform.engine
        self._last_expiry = 0.0
        self._last_sample: dict[str, tuple] = {}
        self._fault_logged: dict[str, float] = {}  # endpoint id -> when its last failure was logged
        self._failing_since: dict[str, float] = {}  # endpoint id -> first of its consecutive failed ticks
        self._failures_seen: dict[str, int] = {}  # endpoint id -> failed starts already backed off (strict)

    async def run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # the platform must keep answering whatever happens
                log.exception("scaler tick failed")
            await asyncio.sleep(TICK_S)

    def tick(self) -> None:
        now = time.monotonic()
        expire = now - self._last_expiry > EXPIRE_EVERY_S
        if expire:
            self._last_expiry = now
        for ep in list(self.engine.endpoints.values()):
            try:  # containment: one endpoint's failure never stops another endpoint's tick
                self.tick_endpoint(ep, now, expire)
                self._failing_since.pop(ep.cfg.id, None)
            except Exception as exc:
                self.contain(ep, now, exc)

    def tick_endpoint(self, ep: EndpointState, now: float, expire: bool) -> None:
        self.reap(ep)
        self.enforce_timeouts(ep, now)
        for worker in list(ep.workers.values()):
            self.engine.resend_stop_signals(ep, worker, now)
        rules.replace_stale(self, ep, now)
        if expire:
            rules.idle_scale_down(self.platform, ep)
        self.scale(ep, now)
        self.sample(ep, now)
        if expire:
            self.expire(ep, now)

    def contain(self, ep: EndpointState, now: float, exc: Exception) -> None:
        """Log a failed endpoint tick (its traceback at most every FAULT_LOG_EVERY_S, a tick runs 10 times a
        second) and carry on with the other endpoints. An endpoint that keeps failing for FAIL_QUEUE_AFTER_S
        fails its queued jobs with the reason, so that every job still reaches a terminal state."""
        endpoint_id = getattr(getattr(ep, "cfg", None), "id", "?")
        if now - self._fault_logged.get(endpoint_id, -FAULT_LOG_EVERY_S) >= FAULT_LOG_EVERY_S:
            self._fault_logged[endpoint_id] = now
            log.exception("scaler tick failed for endpoint %s; other endpoints carry on", endpoint_id)
        since = self._failing_since.setdefault(endpoint_id, now)
        if now - since >= FAIL_QUEUE_AFTER_S and getattr(ep, "queue", None):
            try:
                self.engine.fail_queue(ep, f"the local platform cannot schedule endpoint {endpoint_id}: "
                                           f"{type(exc).__name__}: {str(exc)[:200]} (see the platform's log)")
            except Exception:
                log.exception("could not fail the queue of endpoint %s", endpoint_id)

    # -------------------------------------------------------------- workers
    def reap(self, ep: EndpointState) -> None:
        for worker in list(ep.workers.values()):
            if worker.handle is None or worker.handle.alive():
                continue
            code = getattr(worker.handle, "returncode", None)
            asyncio.get_running_loop().run_in_executor(None, worker.handle.kill)  # its process group too
            self.engine.worker_gone(ep, worker, code)
        if self.platform.strict:  # RunPod keeps restarting, with back-off (rules.py); the jobs wait
            rules.note_failures(ep, time.monotonic(), self._failures_seen)
        elif ep.start_failures >= START_FAILURES_BEFORE_GIVING_UP and ep.queue:
            self.engine.fail_queue(ep, f"workers of endpoint {ep.cfg.id} keep exiting before taking a job "
                                       f"({ep.start_failures} in a row): {ep.last_start_error} (the local "
                                       "platform's lenient default fails the queue; RunPod keeps restarting "
                                       "workers with back-off, as `playbook local up --strict` does)")
            ep.start_failures = 0

    def enforce_timeouts(self, ep: EndpointState, now: float) -> None:
        for job in [j for j in ep.jobs.values() if j.status == IN_PROGRESS]:
            limit_ms = job.execution_timeout_ms or ep.cfg.execution_timeout_ms
            if (now - job.started) * 1000 <= limit_ms:
                continue
            worker = ep.workers.get(job.worker_id)
            self.engine.finish(ep, job, TIMED_OUT, error=(
                f"execution timeout: the job ran longer than executionTimeout {limit_ms} ms; its worker was "
                "stopped. Raise execution_timeout_ms (or policy.executionTimeout) if the job needs longer."))
            if worker is not None:
                worker.jobs.discard(job.id)
                self.stop_worker(ep, worker, "execution timeout")

    def scale(self, ep: EndpointState, now: float) -> None:
        """Apply ``playbook.api.scaling.decide`` (the policy the simulator uses too) to this endpoint."""
        decision = decide(Policy.of(ep.cfg), snapshot(ep, now), now)
        ep.throttled = decision.start if now < ep.backoff_until else 0
        for _ in range(decision.start - ep.throttled):
            self.spawn(ep)
        for worker_id in decision.stop:
            self.stop_worker(ep, ep.workers[worker_id], "idle timeout")

    def spawn(self, ep: EndpointState) -> Worker:
        from playbook.local.runtime.worker_env import worker_env
        from playbook.local.supervision.runners import choose_runner

        platform = self.platform
        worker_id = platform.new_worker_id()
        runner = choose_runner(ep.cfg, self.stock(), self.current_fault, strict=platform.strict,
                               containers=platform.containers, forkservers=platform.forkservers)
        log_path = platform.log_dir / ep.cfg.id / f"{worker_id}.log"
        worker = Worker(worker_id, ep.cfg.id, runner.name, log_path, release=ep.release)
        ep.workers[worker_id] = worker
        pool, usd_per_s = price_of(ep.cfg, self.catalog())
        env = {"MODEL_PATH": str(ep.cfg.model_path), **ep.cfg.env, **worker_env(platform, ep.cfg.id, worker_id)}
        env = faults.worker_fault_env(ep.cfg, env, self.catalog())
        future = asyncio.get_running_loop().run_in_executor(None, runner.start, worker_id, ep.cfg, env, log_path)

        def started(fut: asyncio.Future) -> None:
            if fut.exception() is not None:
                log.error("worker %s failed to start: %s", worker_id, fut.exception())
                worker.state = "stopping"
                self.engine.worker_gone(ep, worker, None)
                ep.start_failures += 1
                ep.last_start_error = f"worker {worker_id} could not start: {fut.exception()}"
                return
            worker.handle = fut.result()
            # billed from here: the image pull and the container's creation (initializing) are not billed
            worker.billed_from = time.monotonic()
            self.engine.ledger.open(worker_id, ep.cfg.id, pool, usd_per_s, self.engine.wall(worker.billed_from))
            if worker.state == "stopping":
                asyncio.get_running_loop().run_in_executor(None, worker.handle.stop, 2.0)

        future.add_done_callback(started)
        return worker

    def stock(self):
        """The control API's stock table (None before its routes exist: every pool has stock)."""
        state = self.platform.control_state
        return state.stock if state is not None else None

    def current_fault(self, endpoint_id: str) -> str | None:
        """The placement fault of the endpoint as now configured (a PATCH may have removed it)."""
        ep = self.engine.endpoints.get(endpoint_id)
        return faults.current_placement_fault(ep.cfg if ep else None, self.stock())

    def catalog(self):
        """The prices workers are billed at: the control API's catalog (overridable), else the default table."""
        state = self.platform.control_state
        return state.catalog if state is not None else default_catalog()

    def stop_worker(self, ep: EndpointState, worker: Worker, reason: str, grace_s: float = 2.0):
        """Stop like RunPod does (SIGTERM, then SIGKILL); the reaper records the exit."""
        if worker.state in ("stopping", "exited"):
            return None
        worker.state = "stopping"
        worker.stop_reason = reason
        self.engine.release_polls(worker)
        if worker.handle is not None:
            return asyncio.get_running_loop().run_in_executor(None, worker.handle.stop, grace_s)
        return None

    # ----------------------------------------------------------- bookkeeping
    def sample(self, ep: EndpointState, now: float) -> None:
        c = ep.counts()
        key = tuple(c.values())
        if self._last_sample.get(ep.cfg.id) == key:
            return
        self._last_sample[ep.cfg.id] = key
        self.engine.timeline.append(TimelineSample(round(now - self.engine.t0, 3), ep.cfg.id, **c))

    def expire(self, ep: EndpointState, now: float) -> None:
        for job in list(ep.jobs.values()):
            keep_s = RUNSYNC_RETENTION_S if job.sync else RUN_RETENTION_S
            if job.terminal and now - job.finished > keep_s:
                del ep.jobs[job.id]
