"""The platform's engine, run on its event loop: moves jobs through RunPod's states and hands them
to workers. The scaler (``scaler.py``) decides when workers start and stop; this module only keeps
the rules every move obeys:

* a job reaches exactly one terminal state; a late progress update or a late result of a cancelled
  or timed-out job never reopens it;
* a job on a worker that dies is retried once, then FAILED with a message saying the worker died;
* job take is a long poll, so an idle worker gets a new job the moment it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from playbook.local.runtime.billing import Ledger
from playbook.local.runtime.state import (
    CANCELLED,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    IN_QUEUE,
    TIMED_OUT,
    EndpointState,
    Job,
    Worker,
    new_job_id,
)

log = logging.getLogger("playbook.local")


class Engine:
    def __init__(self, clock=None) -> None:
        from playbook.local.runtime.clock import Clock

        self.clock = clock or Clock()  # the calendar the idle scale-down counts days on
        self.endpoints: dict[str, EndpointState] = {}
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.timeline: list = []  # TimelineSample, appended by the scaler
        self.ledger = Ledger()  # every worker's billed interval (billing.py)

    def wall(self, mono: float) -> float:
        """A monotonic time of this platform as wall-clock epoch seconds (what billing reports)."""
        return self.wall0 + (mono - self.t0)

    # ----------------------------------------------------------------- jobs
    def submit(self, ep: EndpointState, envelope, sync: bool) -> Job:
        """Queue a job from a checked envelope (``servers.job_envelope.Envelope``)."""
        job = Job(new_job_id(), ep.cfg.id, envelope.input, sync=sync, webhook=envelope.webhook,
                  execution_timeout_ms=envelope.execution_timeout_ms, s3_config=envelope.s3_config,
                  low_priority=envelope.low_priority)
        job.done = asyncio.Event()
        ep.jobs[job.id] = job
        ep.queue.append(job.id)
        ep.last_request_s = self.clock.time()
        if envelope.ttl_ms is not None:
            asyncio.get_running_loop().call_later(envelope.ttl_ms / 1000, self.expire_ttl, ep, job)
        self.dispatch(ep)
        return job

    def expire_ttl(self, ep: EndpointState, job: Job) -> None:
        """``policy.ttl`` passed: RunPod's "maximum job lifetime". An unfinished job times out (a running one
        gets a stop signal, so its worker lives on) and the job is removed: /status then answers 404."""
        if ep.jobs.get(job.id) is not job:
            return
        running_on = ep.workers.get(job.worker_id) if job.status == IN_PROGRESS else None
        finished = self.finish(ep, job, TIMED_OUT, error="ttl expired: the job outlived its policy.ttl; removed")
        if finished and running_on is not None:
            running_on.signalled[job.id] = time.monotonic()
            self.signal_stop(running_on, job.id)
        del ep.jobs[job.id]

    def dispatch(self, ep: EndpointState) -> None:
        """Hand queued jobs to workers waiting in job take: workers holding no job first, one job each,
        then the rest up to each take's batch size. So a prefetching worker (a second job-take slot
        while it runs a job) gets a job only when no idle worker is waiting for one."""
        waiting = [t for t in ep.takers if not t[1].done() and t[0].state in ("initializing", "idle", "running")]
        if not ep.queue or not waiting:
            return
        waiting.sort(key=lambda t: len(t[0].jobs))  # stable: first come first served among equals
        given: dict[int, list[Job]] = {id(t): [] for t in waiting}
        for fill in (1, None):  # first one job per take, then up to the batch size
            for taker in waiting:
                _, _, batch_size = taker
                while ep.queue and len(given[id(taker)]) < (fill or batch_size):
                    job = ep.jobs.get(ep.queue.popleft())
                    if job is not None and job.status == IN_QUEUE:
                        given[id(taker)].append(job)
        for taker in waiting:
            worker, fut, _ = taker
            jobs = given[id(taker)]
            if jobs:
                ep.takers.remove(taker)
                for job in jobs:
                    self.start_job(ep, job, worker)
                fut.set_result(jobs)
        for taker in [t for t in ep.takers if t[1].done()]:
            ep.takers.remove(taker)

    def start_job(self, ep: EndpointState, job: Job, worker: Worker) -> None:
        job.status = IN_PROGRESS
        job.started = time.monotonic()
        job.worker_id = worker.id
        worker.jobs.add(job.id)
        worker.state = "running"
        worker.last_active = job.started

    def finish(self, ep: EndpointState, job: Job, status: str, output: Any = None, error: Any = None) -> bool:
        """Move a job to a terminal state once; later calls are ignored (and return False)."""
        if job.terminal:
            return False
        was_queued = job.status == IN_QUEUE
        job.status = status
        job.finished = time.monotonic()
        if output is not None:
            job.output = output
        if error is not None:
            job.error = error if isinstance(error, str) else json.dumps(error)
        if was_queued:
            with contextlib.suppress(ValueError):
                ep.queue.remove(job.id)
        if status == COMPLETED:
            ep.completed += 1
        elif status in (FAILED, TIMED_OUT):
            ep.failed += 1
        job.done.set()
        if job.webhook:
            asyncio.ensure_future(_post_webhook(job.webhook, job.body()))
        return True

    def release_worker_job(self, ep: EndpointState, worker: Worker, job_id: str) -> None:
        worker.jobs.discard(job_id)
        worker.signalled.pop(job_id, None)
        worker.last_active = time.monotonic()
        if worker.state == "running" and not worker.jobs:
            worker.state = "idle"

    def result(self, ep: EndpointState, worker: Worker, job_id: str, payload: dict) -> None:
        """A worker posted to job-done. Progress updates only touch a running job of that worker."""
        job = ep.jobs.get(job_id)
        if payload.get("status") == IN_PROGRESS:  # progress_update(): may arrive after the result
            if job is not None and job.status == IN_PROGRESS and job.worker_id == worker.id:
                job.output = payload.get("output")
            return
        if job_id in worker.jobs:
            worker.jobs_done += 1
            self.release_worker_job(ep, worker, job_id)
        if payload.get("stopPod"):
            worker.stop_reason = "refresh_worker"
        if job is None or job.status != IN_PROGRESS or job.worker_id != worker.id:
            return  # cancelled, timed out or re-assigned: the stale result is dropped
        if payload.get("error"):
            self.finish(ep, job, FAILED, output=payload.get("output"), error=payload["error"])
        else:
            self.finish(ep, job, COMPLETED, output=payload.get("output"))

    def stream_chunk(self, ep: EndpointState, worker: Worker, job_id: str, payload: dict) -> None:
        job = ep.jobs.get(job_id)
        if job is not None and job.status == IN_PROGRESS and job.worker_id == worker.id:
            job.stream.append({"output": payload.get("output")})

    def cancel(self, ep: EndpointState, job: Job) -> None:
        running_on = ep.workers.get(job.worker_id) if job.status == IN_PROGRESS else None
        if self.finish(ep, job, CANCELLED) and running_on is not None:
            self.signal_stop(running_on, job.id)

    def retry(self, ep: EndpointState, job: Job) -> None:
        job.status, job.started, job.finished, job.worker_id = IN_QUEUE, None, None, None
        job.output = job.error = None
        job.stream.clear()
        job.done = asyncio.Event()
        job.created = time.monotonic()
        ep.queue.append(job.id)
        self.dispatch(ep)

    def purge_queue(self, ep: EndpointState) -> int:
        ids = list(ep.queue)
        for job_id in ids:
            job = ep.jobs.get(job_id)
            if job is not None:
                self.finish(ep, job, CANCELLED, error="purged from the queue by /purge-queue")
        ep.queue.clear()
        return len(ids)

    # --------------------------------------------------------------- workers
    def signal_stop(self, worker: Worker, job_id: str) -> None:
        worker.stop_signals.append(job_id)
        if worker.stop_waiter is not None and not worker.stop_waiter.done():
            worker.stop_waiter.set_result(None)

    def worker_has_no_jobs(self, ep: EndpointState, worker: Worker) -> None:
        """The SDK says (job_in_progress=0) it holds no job: forget the ones it stopped, requeue lost ones."""
        for job_id in list(worker.jobs):
            job = ep.jobs.get(job_id)
            if job is not None and job.status == IN_PROGRESS and job.worker_id == worker.id:
                self.requeue(ep, job)
            self.release_worker_job(ep, worker, job_id)
        self.dispatch(ep)

    def resend_stop_signals(self, ep: EndpointState, worker: Worker, now: float) -> None:
        """A stop signal that reaches the SDK before it has created the job's task is dropped by the SDK;
        repeat it each second while the worker still holds a cancelled, timed-out or expired (removed) job."""
        for job_id in worker.jobs:
            job = ep.jobs.get(job_id)
            if job is not None and not job.terminal:
                continue
            since = worker.signalled.get(job_id, job.finished if job is not None else None)
            if since is not None and now - since >= 1.0:
                worker.signalled[job_id] = now
                self.signal_stop(worker, job_id)

    def release_polls(self, worker: Worker) -> None:
        """Answer a stopping worker's pending long polls so the SDK loop can see its shutdown flag."""
        for fut in worker.takers:
            if not fut.done():
                fut.set_result([])
        if worker.stop_waiter is not None and not worker.stop_waiter.done():
            worker.stop_waiter.set_result(None)

    def worker_gone(self, ep: EndpointState, worker: Worker, exit_code: int | None) -> None:
        """A worker process ended. Its unfinished jobs are retried once, then FAILED."""
        worker.exit_code = exit_code
        worker.exited = time.monotonic()
        self.ledger.close(worker.id, self.wall(worker.exited))
        expected = worker.state == "stopping"
        worker.state = "exited"
        ep.workers.pop(worker.id, None)
        ep.past_workers.append(worker)
        self.release_polls(worker)
        if worker.ready is None and not expected:
            ep.start_failures += 1
            ep.last_start_error = (f"worker {worker.id} exited with code {exit_code} before taking a job; "
                                   f"see its log: {worker.log_path}")
        elif worker.ready is not None:
            ep.start_failures = 0
        for job_id in sorted(worker.jobs):
            job = ep.jobs.get(job_id)
            if job is None or job.status != IN_PROGRESS or job.worker_id != worker.id:
                continue
            if expected and worker.stop_reason != "refresh_worker":
                self.requeue(ep, job)  # stopped by the platform (e.g. a sibling job timed out)
            elif job.retries < 1:
                job.retries += 1
                ep.retried += 1
                log.warning("worker %s died (exit code %s) running job %s: retrying it", worker.id, exit_code, job.id)
                self.requeue(ep, job)
            else:
                self.finish(ep, job, FAILED, error=(
                    f"worker died: worker {worker.id} exited (code {exit_code}) while running this job, "
                    f"which had already been retried once after a worker died. See the worker log: "
                    f"{worker.log_path}"))
        worker.jobs.clear()
        self.dispatch(ep)

    def requeue(self, ep: EndpointState, job: Job) -> None:
        job.status, job.started, job.worker_id = IN_QUEUE, None, None
        job.stream.clear()
        ep.queue.appendleft(job.id)

    def fail_queue(self, ep: EndpointState, message: str) -> None:
        for job_id in list(ep.queue):
            job = ep.jobs.get(job_id)
            if job is not None:
                self.finish(ep, job, FAILED, error=message)
        ep.queue.clear()


async def _post_webhook(url: str, body: dict) -> None:
    import aiohttp

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await session.post(url, json=body)
    except Exception as exc:  # a broken webhook must not break the platform
        log.warning("webhook %s failed: %s", url, exc)
