"""Local-only extras, outside RunPod's paths (under /local/): what `playbook local status` and the
monitoring plots need from a platform running in another process. The key is checked by ``servers.auth``."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from playbook.local.servers.app import PLATFORM


def _platform(request: web.Request):
    return request.app[PLATFORM]


async def status(request: web.Request) -> web.Response:
    return web.json_response(_platform(request).snapshot())


async def timeline(request: web.Request) -> web.Response:
    samples = _platform(request).timeline(request.match_info["endpoint_id"])
    return web.json_response([s.to_dict() for s in samples])


async def workers(request: web.Request) -> web.Response:
    include_exited = request.query.get("include_exited", "0") in ("1", "true")
    found = _platform(request).list_workers(request.match_info["endpoint_id"], include_exited=include_exited)
    return web.json_response([asdict(w) for w in found])


async def billing(request: web.Request) -> web.Response:
    found = _platform(request).billed_workers(request.match_info["endpoint_id"])
    return web.json_response([asdict(e) for e in found])


def add_routes(app: web.Application, platform) -> None:
    app.router.add_get("/local/status", status)
    app.router.add_get("/local/billing/{endpoint_id}", billing)
    app.router.add_get("/local/workers/{endpoint_id}", workers)
    app.router.add_get("/local/timeline/{endpoint_id}", timeline)
