"""The job client: submit, wait, stream, cancel and check health, over ``runpod.Endpoint``, against
any ``Target`` (the local platform or RunPod itself), with one code path.

Why not ``runpod.Endpoint`` alone: its waiting sleeps a fixed second between polls, ``Job.stream()``
never ends on a CANCELLED job, ``Endpoint.run`` wraps an empty ``{"input": {}}`` twice, and a timed-out
wait leaves the job running (and billing). Here waiting uses ``/runsync`` waits or short adaptive
polling (50 ms growing to 0.25 s), streams end on every terminal state, and a timeout cancels the job.
We use the SDK's HTTP client (``Endpoint.rp_client``: its auth header and retries) with the target's
base URL set on the instance rather than on the ``runpod`` module, so two targets can coexist.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from playbook.config import Target
from playbook.errors import JobError, PlatformError
from playbook.settings import TERMINAL

POLL_START_S, POLL_MAX_S, POLL_GROWTH = 0.05, 0.25, 1.5


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

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

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
            raise JobError(f"job {self.id} ended {self.status}: {self.error or 'no error message'}")
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
        rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in self.__dict__.items())
        return f"<table>{rows}</table>"


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
        head = "".join(f"<th>{k}</th>" for k in ("id", "status", "delay_ms", "execution_ms", "latency_s", "worker_id"))
        body = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row.values()) + "</tr>" for row in self.rows())
        return (f"<p>{len(self.results)} jobs in {self.wall_s:.2f} s ({self.jobs_per_s:.2f} jobs/s): "
                f"{self.counts}</p><table><tr>{head}</tr>{body}</table>")


class JobClient:
    """Jobs of one endpoint on one target. ``endpoint_id=""`` talks to a server without the /{id} prefix
    (RunPod's own ``--rp_serve_api``, which executes only /runsync)."""

    def __init__(self, target: Target, endpoint_id: str, request_timeout_s: float = 30.0):
        self.target = target
        self.endpoint_id = endpoint_id
        self.request_timeout_s = request_timeout_s
        self._local = threading.local()

    @property
    def endpoint(self):
        """A ``runpod.Endpoint`` for this thread (requests sessions are not shared across threads)."""
        if getattr(self._local, "endpoint", None) is None:
            import runpod

            endpoint = runpod.Endpoint(self.endpoint_id, api_key=self.target.api_key.reveal() or "none")
            endpoint.rp_client.endpoint_url_base = self.target.job_api_url.rstrip("/")
            _quick_connect_failures(endpoint.rp_client.rp_session)
            self._local.endpoint = endpoint
        return self._local.endpoint

    def _path(self, tail: str) -> str:
        return f"{self.endpoint_id}/{tail}" if self.endpoint_id else tail

    def _call(self, method: str, tail: str, data: dict | None = None, timeout_s: float | None = None) -> dict:
        import requests

        client = self.endpoint.rp_client
        try:
            return client._request(method, self._path(tail), data, timeout=timeout_s or self.request_timeout_s)
        except RuntimeError as exc:  # the SDK's 401
            raise PlatformError(f"{self.target.name} refused the API key ({exc}). Check RUNPOD_API_KEY or "
                                "restart the local platform.") from exc
        except requests.HTTPError as exc:
            try:
                detail = exc.response.json().get("error", exc.response.text)
            except ValueError:
                detail = exc.response.text
            raise PlatformError(f"{method} {tail} failed with HTTP {exc.response.status_code}: {detail}") from exc
        except requests.RequestException as exc:
            raise PlatformError(f"cannot reach {self.target.job_api_url}: {exc}. Is the platform running "
                                "(`playbook local status`)?") from exc

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
        waiting on /status; past the timeout the job is cancelled and JobError raised."""
        start = time.perf_counter()
        wait_ms = int(min(max(timeout_s, 1.0), 300.0) * 1000)
        body = self._call("POST", f"runsync?wait={wait_ms}", self._body(job_input, **options),
                          timeout_s=wait_ms / 1000 + 10)
        result = JobResult.from_body(body)
        if not result.terminal:
            return self.wait(result.id, timeout_s - (time.perf_counter() - start), _start=start)
        result.latency_s = time.perf_counter() - start
        return result

    def status(self, job_id: str) -> JobResult:
        return JobResult.from_body(self._call("GET", f"status/{job_id}"))

    def wait(self, job_id: str, timeout_s: float = 300.0, cancel_on_timeout: bool = True,
             _start: float | None = None) -> JobResult:
        """Poll /status adaptively until the job ends; on timeout cancel it (by default) and raise JobError."""
        start = _start or time.perf_counter()
        deadline = time.perf_counter() + max(timeout_s, 0.0)
        pause = POLL_START_S
        while True:
            result = self.status(job_id)
            if result.terminal:
                result.latency_s = time.perf_counter() - start
                return result
            if time.perf_counter() >= deadline:
                if cancel_on_timeout:
                    self.cancel(job_id)
                raise JobError(f"job {job_id} did not finish within {timeout_s:.0f} s (still {result.status})"
                               + ("; it was cancelled on the platform." if cancel_on_timeout else "."))
            time.sleep(min(pause, max(deadline - time.perf_counter(), 0.0)))
            pause = min(pause * POLL_GROWTH, POLL_MAX_S)

    def output(self, job_id: str, timeout_s: float = 300.0) -> Any:
        """The output of a job once COMPLETED; JobError for FAILED, CANCELLED or TIMED_OUT."""
        return self.wait(job_id, timeout_s).raise_for_status().output

    def stream(self, job_id: str, timeout_s: float = 300.0) -> Iterator[Any]:
        """Yield a streaming job's chunks from /stream as they arrive; ends on any terminal state
        (unlike ``runpod.Job.stream()``); a FAILED stream raises JobError after its chunks."""
        deadline = time.perf_counter() + timeout_s
        pause = POLL_START_S
        while True:
            body = self._call("GET", f"stream/{job_id}")
            chunks = body.get("stream", [])
            for chunk in chunks:
                yield chunk.get("output")
            status = body.get("status")
            if status in TERMINAL and not chunks:
                if status != "COMPLETED":
                    error = body.get("error") or self.status(job_id).error
                    raise JobError(f"stream of job {job_id} ended {status}: {error}")
                return
            if time.perf_counter() >= deadline:
                self.cancel(job_id)
                raise JobError(f"stream of job {job_id} did not end within {timeout_s:.0f} s; it was cancelled.")
            pause = POLL_START_S if chunks else min(pause * POLL_GROWTH, POLL_MAX_S)
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
            raise ValueError("concurrency must be >= 1")
        start = time.perf_counter()

        def one(job_input: dict) -> JobResult:
            t = time.perf_counter()
            job_id = self.run(job_input)
            try:
                result = self.wait(job_id, timeout_s, _start=t)
            except JobError as exc:
                result = JobResult(job_id, "CANCELLED", error=str(exc), latency_s=time.perf_counter() - t)
            bar.update(1)
            return result

        with tqdm(total=len(inputs), desc=desc, unit="job", disable=not progress) as bar, \
                ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, inputs))
        counts: dict = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return BatchResult(results, time.perf_counter() - start, counts)


def _quick_connect_failures(session) -> None:
    """The SDK retries a refused connection 5 times with backoff (about 30 s); keep its 408/429 retries,
    but report a platform that is not running after one quick retry."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retries = Retry(total=5, connect=1, backoff_factor=0.2, status_forcelist=[408, 429])
    for prefix in ("http://", "https://"):
        session.mount(prefix, HTTPAdapter(max_retries=retries))


def client(endpoint_id: str, target: Target | None = None) -> JobClient:
    """A JobClient for ``endpoint_id`` on ``target`` (default: ``resolve_target()``)."""
    from playbook.config import resolve_target

    return JobClient(target or resolve_target(), endpoint_id)
