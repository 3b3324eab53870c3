"""RunPod's worker protocol, as the runpod SDK 1.12 calls it (rp_job, rp_http, rp_ping, rp_scale):

* ``GET  {ep}/job-take/{worker}?gpu=..&job_in_progress=0|1`` long poll: 200 ``{id, input}`` or 204;
  ``/job-take-batch/...&batch_size=N`` answers a list;
* ``POST {ep}/job-done/{worker}/{job}?..&isStream=false|true`` body: JSON text with output or error
  (or a progress update ``{"status": "IN_PROGRESS", ...}``);
* ``POST {ep}/job-stream/{worker}/{job}`` stream chunks; ``GET {ep}/ping/{worker}`` heartbeat;
* ``GET  {ep}/job-stop/{worker}`` long poll answered ``{"jobsToStop": [...]}`` or 204.

The SDK retries at once on any error, so these routes never answer an error instantly (a short pause
first), and long polls are held open rather than answered 204 at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.runtime.state import FAILED
from playbook.local.servers.app import PLATFORM
from playbook.local.servers.limits import WORKER_RESULT_LIMIT_BYTES, BodyError, read_json

TAKE_HOLD_S = 20.0  # the SDK gives job take 90 s; we answer 204 well before that
STOP_HOLD_S = 20.0
ERROR_PAUSE_S = 1.0
log = logging.getLogger("playbook.local")


def _engine(request: web.Request):
    return request.app[PLATFORM].engine


def _batch_size(text: str | None, most: int = 64) -> int:
    """The SDK's ``batch_size`` (its concurrency), kept within 1..most; anything unreadable is 1."""
    try:
        return min(max(int(text or 1), 1), most)
    except ValueError:
        return 1


async def worker_of(request):
    """(endpoint, worker) or an error response after a pause (the SDK would retry at once). The
    worker key was checked by ``servers.auth``."""
    ep = _engine(request).endpoints.get(request.match_info["endpoint_id"])
    worker = ep.workers.get(request.match_info["worker_id"]) if ep else None
    if worker is None:
        await asyncio.sleep(ERROR_PAUSE_S)
        return None, web.Response(status=204)
    return (ep, worker), None


async def take(request, batch: bool):
    found, response = await worker_of(request)
    if response is not None:
        return response
    ep, worker = found
    engine = _engine(request)
    now = time.monotonic()
    if worker.ready is None:
        worker.ready = now  # cold start ends at the first job take
    if worker.state == "initializing":
        worker.state = "idle"
        worker.last_active = now
    if request.query.get("job_in_progress") == "0":
        engine.worker_has_no_jobs(ep, worker)  # it dropped stopped jobs without posting a result
    if worker.state == "stopping":
        await asyncio.sleep(0.2)
        return web.Response(status=204)
    size = _batch_size(request.query.get("batch_size")) if batch else 1
    fut = asyncio.get_running_loop().create_future()
    worker.takers.append(fut)
    ep.takers.append((worker, fut, max(size, 1)))
    engine.dispatch(ep)
    try:
        await asyncio.wait({fut}, timeout=TAKE_HOLD_S)
    finally:
        worker.takers.remove(fut)
    jobs = fut.result() if fut.done() and not fut.cancelled() else []
    if not fut.done():
        fut.cancel()
    if not jobs:
        return web.Response(status=204)
    bodies = [{"id": j.id, "input": j.input, **({"s3Config": j.s3_config} if j.s3_config else {})}
              for j in jobs]
    return web.json_response(bodies if batch else bodies[0])


async def job_take(request):
    return await take(request, batch=False)


async def job_take_batch(request):
    return await take(request, batch=True)


async def read_payload(request) -> tuple[dict, BodyError | None]:
    """The posted result, or (a FAILED result naming the problem, the refusal): a result too large or too
    deep still ends its job (every job reaches a terminal state), with an error saying why."""
    try:
        payload = await read_json(request, WORKER_RESULT_LIMIT_BYTES, "worker result")
    except BodyError as exc:
        if exc.status == 400 and "not valid JSON" in exc.message:
            return {"error": f"worker posted a result that is not JSON: {excerpt(await request.read())}"}, None
        return {"error": f"the worker's result was refused: {exc.message}"}, exc
    if payload is None:
        payload = {}
    return (payload if isinstance(payload, dict) else {"output": payload}), None


def confine(engine, ep, worker, job_id: str, exc: Exception) -> None:
    """Containment: filing one job's post failed; that job ends FAILED, the worker and other jobs carry on."""
    log.exception("filing worker %s's post for job %s failed; the job fails, the worker carries on",
                  worker.id, job_id)
    try:
        job = ep.jobs.get(job_id)
        if job is not None:
            engine.finish(ep, job, FAILED, error=f"the local platform could not file this job's result "
                                                 f"({type(exc).__name__}); see the platform's log")
        engine.release_worker_job(ep, worker, job_id)
    except Exception:
        log.exception("could not fail job %s", job_id)


def posting(method: str, record_refused: bool):
    """A handler for a worker's post about a job (result or stream chunk): ``engine.<method>`` files it (and
    files a refused result as the job's failure when ``record_refused``); a failure to file is confined to
    that job (``confine``)."""

    async def handle(request):
        found, response = await worker_of(request)
        if response is not None:
            return response if response.status != 204 else web.Response(status=200)
        ep, worker = found
        engine = _engine(request)
        payload, refused = await read_payload(request)
        job_id = request.match_info["job_id"]
        if refused is None or record_refused:
            try:
                getattr(engine, method)(ep, worker, job_id, payload)
            except Exception as exc:
                confine(engine, ep, worker, job_id, exc)
        if refused is not None:
            return web.json_response({"error": refused.message}, status=refused.status)
        return web.Response(status=200)

    return handle


job_done = posting("result", record_refused=True)
job_stream = posting("stream_chunk", record_refused=False)


async def job_stop(request):
    found, response = await worker_of(request)
    if response is not None:
        return response
    ep, worker = found
    if not worker.stop_signals and worker.state != "stopping":
        worker.stop_waiter = asyncio.get_running_loop().create_future()
        await asyncio.wait({worker.stop_waiter}, timeout=STOP_HOLD_S)
    ids, worker.stop_signals = worker.stop_signals, []
    if not ids:
        return web.Response(status=204)
    return web.json_response({"jobsToStop": ids})


async def ping(request):
    found, response = await worker_of(request)
    if response is not None:
        return response if response.status != 204 else web.Response(status=200)
    _, worker = found
    worker.last_ping = time.monotonic()
    return web.Response(status=200)


def add_routes(app: web.Application, platform) -> None:
    r = app.router
    r.add_get("/v2/{endpoint_id}/job-take/{worker_id}", job_take)
    r.add_get("/v2/{endpoint_id}/job-take-batch/{worker_id}", job_take_batch)
    r.add_get("/v2/{endpoint_id}/job-stop/{worker_id}", job_stop)
    r.add_post("/v2/{endpoint_id}/job-done/{worker_id}/{job_id}", job_done)
    r.add_post("/v2/{endpoint_id}/job-stream/{worker_id}/{job_id}", job_stream)
    r.add_get("/v2/{endpoint_id}/ping/{worker_id}", ping)
