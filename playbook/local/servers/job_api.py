"""RunPod's serverless job API (api.runpod.ai/v2/{endpoint_id}/...) on the local platform: same paths,
headers, JSON shapes, payload limits and states, so ``runpod.Endpoint`` and ``playbook.api.jobs`` work
unchanged against it."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.core.settings import RUN_PAYLOAD_LIMIT_BYTES as RUN_LIMIT_BYTES
from playbook.core.settings import RUNSYNC_PAYLOAD_LIMIT_BYTES as RUNSYNC_LIMIT_BYTES
from playbook.local.runtime.state import FAILED, IN_PROGRESS, IN_QUEUE, TERMINAL, TIMED_OUT
from playbook.local.servers import job_envelope
from playbook.local.servers.job_envelope import Envelope
from playbook.local.servers.limits import BodyError, read_json

RUNSYNC_DEFAULT_WAIT_MS = 90_000
RUNSYNC_MIN_WAIT_MS, RUNSYNC_MAX_WAIT_MS = 1_000, 300_000


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def refusal(status: int, message: str, field: str) -> web.HTTPException:
    """A refused job body: RunPod's ``{"error": ...}`` plus the dotted path of the field at fault."""
    cls = web.HTTPRequestEntityTooLarge if status == 413 else web.HTTPBadRequest
    text = json.dumps({"error": message, "field": field})
    if cls is web.HTTPRequestEntityTooLarge:
        return cls(max_size=0, actual_size=0, text=text, content_type="application/json")
    return cls(text=text, content_type="application/json")


def add_routes(app: web.Application, platform) -> None:
    """RunPod's job API paths, answered by ``JobApi`` on ``platform``."""
    api = JobApi(platform)
    r = app.router
    r.add_post("/v2/{endpoint_id}/run", api.run)
    r.add_post("/v2/{endpoint_id}/runsync", api.runsync)
    r.add_get("/v2/{endpoint_id}/status/{job_id}", api.status)
    r.add_post("/v2/{endpoint_id}/status/{job_id}", api.status)
    r.add_get("/v2/{endpoint_id}/stream/{job_id}", api.stream)
    r.add_post("/v2/{endpoint_id}/cancel/{job_id}", api.cancel)
    r.add_post("/v2/{endpoint_id}/retry/{job_id}", api.retry)
    r.add_post("/v2/{endpoint_id}/purge-queue", api.purge_queue)
    r.add_get("/v2/{endpoint_id}/health", api.health)


class JobApi:
    """The job API's handlers, one per route, on one platform's engine."""

    def __init__(self, platform) -> None:
        self.platform = platform

    # -- what every handler looks up --------------------------------------------------------------------

    def endpoint_of(self, request: web.Request):  # the key was checked by servers.auth
        ep = self.platform.engine.endpoints.get(request.match_info["endpoint_id"])
        if ep is None:
            eid = excerpt(request.match_info["endpoint_id"], 100).strip("'")  # a path segment: no quotes
            raise web.HTTPNotFound(text=json.dumps({"error": f"endpoint {eid} "
                                                    "not found; create it first (list_endpoints() shows them)."}),
                                   content_type="application/json")
        return ep

    @staticmethod
    def job_of(ep, request: web.Request):
        job = ep.jobs.get(request.match_info["job_id"])
        if job is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "request does not exist (unknown id, or its result "
                                                    "expired: /run results are kept 30 min, /runsync 1 min, and "
                                                    "a job past its policy.ttl is removed)"}),
                                   content_type="application/json")
        return job

    @staticmethod
    async def read_envelope(request: web.Request, limit: int, path: str) -> Envelope:
        """The checked job body, or 413 (too large) / 400 (not JSON, too deep, a bad field) before anything
        reaches the queue."""
        try:
            return job_envelope.check(await read_json(request, limit, path))
        except BodyError as exc:
            raise refusal(exc.status, exc.message, exc.field) from None
        except job_envelope.EnvelopeError as exc:
            raise refusal(400, str(exc), exc.field) from None

    # -- the routes -------------------------------------------------------------------------------------

    async def run(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        envelope = await self.read_envelope(request, RUN_LIMIT_BYTES, "/run")
        job = self.platform.engine.submit(ep, envelope, sync=False)
        return web.json_response({"id": job.id, "status": job.status})

    async def runsync(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        try:
            wait_ms = int(request.query.get("wait", RUNSYNC_DEFAULT_WAIT_MS))
        except ValueError:
            return error(400, "wait must be an integer number of milliseconds (1000 to 300000).")
        wait_ms = min(max(wait_ms, RUNSYNC_MIN_WAIT_MS), RUNSYNC_MAX_WAIT_MS)
        envelope = await self.read_envelope(request, RUNSYNC_LIMIT_BYTES, "/runsync")
        job = self.platform.engine.submit(ep, envelope, sync=True)
        try:
            await asyncio.wait_for(asyncio.shield(job.done.wait()), wait_ms / 1000)
        except TimeoutError:
            return web.json_response({"id": job.id, "status": job.status})
        return web.json_response(job.body())

    async def status(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        return web.json_response(self.job_of(ep, request).body())

    async def stream(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        job = self.job_of(ep, request)
        chunks, job.stream = job.stream, []
        data = {"status": job.status, "stream": chunks}
        if job.terminal and job.error is not None:
            data["error"] = job.error
        return web.json_response(data)

    async def cancel(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        job = self.job_of(ep, request)
        self.platform.engine.cancel(ep, job)
        return web.json_response({"id": job.id, "status": job.status})

    async def retry(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        job = self.job_of(ep, request)
        if job.status not in (FAILED, TIMED_OUT):
            return error(400, f"job {job.id} is {job.status}; /retry applies only to FAILED or TIMED_OUT jobs.")
        self.platform.engine.retry(ep, job)
        return web.json_response({"id": job.id, "status": job.status})

    async def purge_queue(self, request: web.Request) -> web.Response:
        ep = self.endpoint_of(request)
        return web.json_response({"removed": self.platform.engine.purge_queue(ep), "status": "completed"})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(self.endpoint_of(request).health())


__all__ = ["add_routes", "IN_QUEUE", "IN_PROGRESS", "TERMINAL"]
