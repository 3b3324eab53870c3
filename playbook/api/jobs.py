"""The job client: submit, wait, stream, cancel and check health against any ``Target`` (the local
platform or RunPod itself), with one code path.

How: ``JobClient`` speaks RunPod's job API itself (``/run``, ``/runsync?wait=``, ``/status``, ``/stream``,
``/cancel``, ``/retry``, ``/purge-queue``, ``/health``: a handful of documented routes) through
``playbook.api.http`` (retries, errors by status). Why not ``runpod.Endpoint``: its waiting sleeps a fixed
second between polls, ``Job.stream()`` never ends on a CANCELLED job, ``Endpoint.run`` wraps an empty
``{"input": {}}`` twice, a timed-out wait leaves the job running (and billing), and its base URL is a
module global, so two targets cannot coexist. (``runpod.Endpoint`` still works against the local
platform; a test keeps it so.)

Waiting reports a result as soon as it can: ``run_sync`` holds one ``/runsync?wait=`` request open (the
platform answers the moment the job ends); ``wait`` polls ``/status`` at a pace that tightens near the
finish it expects from this client's recent jobs (half the time left before it, at most 0.5 s; 30 ms
after it, growing to 100 ms once a job is overdue by 0.28 s). A wait that runs out cancels the job (by
default) and raises ``JobTimeout`` with the job's real state.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from playbook.api.http import HttpClient
from playbook.core.config import Target
from playbook.core.errors import ConfigError, JobError, JobTimeout, WaitTimeout
from playbook.core.html import fields_table, table
from playbook.core.settings import COMPLETED, TERMINAL
from playbook.core.waiting import wait_for

POLL_NEAR_S, POLL_NEAR_MAX_S, POLL_OVERDUE_RATE = 0.03, 0.1, 0.25  # around and after the expected finish
POLL_FAR_MAX_S = 0.5  # well before it
STREAM_POLL_START_S, STREAM_POLL_MAX_S = 0.05, 0.25


@dataclass
class JobResult:
    """A job as the API reports it; delay and execution in ms (RunPod's units), latency as the client saw it."""

    id: str
    status: str
    output: Any = None
    error: str | None = None
    delay_ms: int | None = None
    execution_ms: int | None = None
    worker_id: str | None = None
    latency_s: float | None = None  # submit to result seen, measured by this client
    states_seen: list[str] = field(default_factory=list)  # each state this client's wait() saw, in order

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_body(cls, body: dict) -> JobResult:
        return cls(id=body.get("id", ""), status=body.get("status", "UNKNOWN"), output=body.get("output"),
                   error=body.get("error"), delay_ms=body.get("delayTime"), execution_ms=body.get("executionTime"),
                   worker_id=body.get("workerId"))

    def raise_for_status(self) -> JobResult:
        if not self.ok:
            raise JobError(f"job {self.id} ended {self.status}: {self.error or 'no error message'}", self.id,
                           self.status)
        return self


@dataclass
class Health:
    """An endpoint's /health: job counts and worker counts."""

    jobs_completed: int
    jobs_failed: int
    jobs_in_progress: int
    jobs_in_queue: int
    jobs_retried: int
    workers_idle: int
    workers_running: int
    workers_initializing: int = 0
    workers_ready: int = 0
    workers_throttled: int = 0
    workers_unhealthy: int = 0

    @classmethod
    def from_body(cls, body: dict) -> Health:
        jobs, workers = body.get("jobs", {}), body.get("workers", {})
        return cls(jobs.get("completed", 0), jobs.get("failed", 0), jobs.get("inProgress", 0),
                   jobs.get("inQueue", 0), jobs.get("retried", 0), workers.get("idle", 0), workers.get("running", 0),
                   workers.get("initializing", 0), workers.get("ready", 0), workers.get("throttled", 0),
                   workers.get("unhealthy", 0))

    def _repr_html_(self) -> str:
        return fields_table(self.__dict__)


@dataclass
class BatchResult:
    """Results of ``run_batch`` in input order, with the wall time of the whole batch."""

    results: list[JobResult]
    wall_s: float
    counts: dict = field(default_factory=dict)

    @property
    def jobs_per_s(self) -> float:
        return len(self.results) / self.wall_s if self.wall_s else 0.0

    def rows(self) -> list[dict]:
        return [{"id": r.id, "status": r.status, "delay_ms": r.delay_ms, "execution_ms": r.execution_ms,
                 "latency_s": None if r.latency_s is None else round(r.latency_s, 3), "worker_id": r.worker_id}
                for r in self.results]

    def _repr_html_(self) -> str:
        rows = self.rows()
        caption = f"{len(self.results)} jobs in {self.wall_s:.2f} s ({self.jobs_per_s:.2f} jobs/s): {self.counts}"
        header = list(rows[0]) if rows else ["id", "status", "delay_ms", "execution_ms", "latency_s", "worker_id"]
        return table([list(r.values()) for r in rows], header=header, caption=caption)


class JobClient:
    """Jobs of one endpoint on one target. ``endpoint_id=""`` talks to a server without the /{id} prefix
    (RunPod's own ``--rp_serve_api``, which executes only /runsync)."""

    def __init__(self, target: Target, endpoint_id: str, request_timeout_s: float = 30.0):
        self.target = target
        self.endpoint_id = endpoint_id
        self.request_timeout_s = request_timeout_s
        fix = ("Fix: is the platform running (`playbook local status`; `playbook local up` starts it)?"
               if target.name == "local" else "Fix: check your network connection and https://uptime.runpod.io.")
        self.http = HttpClient(target.job_api_url, target.api_key, target=target.name, timeout_s=request_timeout_s,
                               backoff_s=0.2, api="job", unreachable_hint=fix)
        self._recent_s: deque[float] = deque(maxlen=16)  # submit-to-result times of recent jobs

    def __repr__(self) -> str:
        return f"JobClient({self.target.name}: {self.endpoint_id or '(root)'})"

    def _call(self, method: str, tail: str, data: dict | None = None, timeout_s: float | None = None) -> dict:
        path = f"/{self.endpoint_id}/{tail}" if self.endpoint_id else f"/{tail}"
        return self.http.request(method, path, json=data, timeout_s=timeout_s) or {}

    # ------------------------------------------------------------------ jobs
    def run(self, job_input: dict, webhook: str | None = None, execution_timeout_ms: int | None = None) -> str:
        """Submit a job to /run; returns its id."""
        return self._call("POST", "run", self._body(job_input, webhook, execution_timeout_ms))["id"]

    @staticmethod
    def _body(job_input, webhook=None, execution_timeout_ms=None) -> dict:
        body: dict = {"input": job_input}
        if webhook:
            body["webhook"] = webhook
        if execution_timeout_ms:
            body["policy"] = {"executionTimeout": int(execution_timeout_ms)}
        return body

    def run_sync(self, job_input: dict, timeout_s: float = 90.0, **options) -> JobResult:
        """/runsync, waiting up to ``timeout_s``; if the platform answers before the job ends, keep
        waiting on /status; past the timeout the job is cancelled and ``JobTimeout`` raised."""
        start = time.perf_counter()
        wait_ms = int(min(max(timeout_s, 1.0), 300.0) * 1000)
        body = self._call("POST", f"runsync?wait={wait_ms}", self._body(job_input, **options),
                          timeout_s=wait_ms / 1000 + 10)
        result = JobResult.from_body(body)
        if not result.terminal:
            return self.wait(result.id, timeout_s - (time.perf_counter() - start), _start=start)
        return self._seen(result, start)

    def status(self, job_id: str) -> JobResult:
        return JobResult.from_body(self._call("GET", f"status/{job_id}"))

    def wait(self, job_id: str, timeout_s: float = 300.0, cancel_on_timeout: bool = True,
             _start: float | None = None) -> JobResult:
        """Poll /status until the job ends (pace: module docstring). On timeout cancel it (by default)
        and raise ``JobTimeout`` carrying the job's state as the platform then reports it."""
        start = _start or time.perf_counter()
        last: list[JobResult] = []

        seen: list[str] = []

        def ended() -> JobResult | None:
            result = self.status(job_id)
            last[:] = [result]
            if not seen or seen[-1] != result.status:
                seen.append(result.status)
            return result if result.terminal else None

        try:
            result = wait_for(ended, max(timeout_s, 0.0), what=f"job {job_id}",
                              next_interval_s=self._pacer(start))
        except WaitTimeout:
            status = last[0].status if last else "UNKNOWN"
            if cancel_on_timeout:
                status = self.cancel(job_id).status or status
            raise JobTimeout(f"job {job_id} did not finish within {timeout_s:.0f} s ("
                             + (f"cancelled on the platform: {status})." if cancel_on_timeout else f"still {status}).")
                             + " Fix: raise timeout_s, or check the workers (`playbook local status`, the "
                             "endpoint's workers view).", job_id, status) from None
        result.states_seen = seen
        return self._seen(result, start)

    def _seen(self, result: JobResult, start: float) -> JobResult:
        result.latency_s = time.perf_counter() - start
        if result.ok:
            self._recent_s.append(result.latency_s)
        return result

    def _pacer(self, start: float):
        """The pause before each next /status poll. Before the finish this client expects (the median
        submit-to-result time of its recent jobs): half the time left, between POLL_NEAR_S and
        POLL_FAR_MAX_S. After it (or at once, with no history): POLL_NEAR_S, growing by POLL_OVERDUE_RATE
        per second overdue up to POLL_NEAR_MAX_S, so a result is seen within about 100 ms of the job's end."""
        expected_end = start + (statistics.median(self._recent_s) if self._recent_s else 0.0)

        def pause() -> float:
            left = expected_end - time.perf_counter()
            if left > 0:
                return min(max(left / 2, POLL_NEAR_S), POLL_FAR_MAX_S)
            return min(POLL_NEAR_S - left * POLL_OVERDUE_RATE, POLL_NEAR_MAX_S)

        return pause

    def output(self, job_id: str, timeout_s: float = 300.0) -> Any:
        """The output of a job once COMPLETED; JobError for FAILED, CANCELLED or TIMED_OUT."""
        return self.wait(job_id, timeout_s).raise_for_status().output

    def stream(self, job_id: str, timeout_s: float = 300.0) -> Iterator[Any]:
        """Yield a streaming job's chunks from /stream as they arrive; ends on any terminal state
        (unlike ``runpod.Job.stream()``); a FAILED stream raises JobError after its chunks."""
        deadline = time.perf_counter() + timeout_s
        pause = STREAM_POLL_START_S
        while True:
            body = self._call("GET", f"stream/{job_id}")
            chunks = body.get("stream", [])
            for chunk in chunks:
                yield chunk.get("output")
            status = body.get("status")
            if status in TERMINAL and not chunks:
                if status != "COMPLETED":
                    error = body.get("error") or self.status(job_id).error
                    raise JobError(f"stream of job {job_id} ended {status}: {error}", job_id, status)
                return
            if time.perf_counter() >= deadline:
                status = self.cancel(job_id).status
                raise JobTimeout(f"stream of job {job_id} did not end within {timeout_s:.0f} s; it was cancelled "
                                 f"({status}).", job_id, status)
            pause = STREAM_POLL_START_S if chunks else min(pause * 1.5, STREAM_POLL_MAX_S)
            time.sleep(pause)

    def cancel(self, job_id: str) -> JobResult:
        return JobResult.from_body(self._call("POST", f"cancel/{job_id}"))

    def retry(self, job_id: str) -> JobResult:
        return JobResult.from_body(self._call("POST", f"retry/{job_id}"))

    def health(self) -> Health:
        return Health.from_body(self._call("GET", "health"))

    def purge_queue(self) -> int:
        """Remove every queued job; returns how many were removed."""
        return int(self._call("POST", "purge-queue").get("removed", 0))

    def run_batch(self, inputs: list[dict], concurrency: int = 4, timeout_s: float = 300.0,
                  progress: bool = True, desc: str = "jobs") -> BatchResult:
        """Run many jobs with at most ``concurrency`` in flight (so the queue shows real demand without
        flooding it), each submitted to /run and awaited; results in input order, with a progress bar."""
        from tqdm.auto import tqdm

        if concurrency < 1:
            raise ConfigError(f"run_batch: concurrency must be 1 or more, not {concurrency}.")
        start = time.perf_counter()

        def one(job_input: dict) -> JobResult:
            t = time.perf_counter()
            job_id = self.run(job_input)
            try:
                result = self.wait(job_id, timeout_s, _start=t)
            except JobTimeout as exc:  # the job's real state after the cancel, not a made-up one
                result = JobResult(job_id, exc.status, error=str(exc), latency_s=time.perf_counter() - t)
            bar.update(1)
            return result

        with tqdm(total=len(inputs), desc=desc, unit="job", disable=not progress) as bar, \
                ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, inputs))
        counts: dict = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return BatchResult(results, time.perf_counter() - start, counts)
