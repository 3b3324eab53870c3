"""Local-only extras, outside RunPod's paths (under /local/): what `playbook local status` and the
monitoring plots need from a platform running in another process. The key is checked by ``servers.auth``."""

from __future__ import annotations

from aiohttp import web

from playbook.local.servers.app import PLATFORM


def _platform(request: web.Request):
    return request.app[PLATFORM]


async def status(request: web.Request) -> web.Response:
    return web.json_response(_platform(request).snapshot())


async def timeline(request: web.Request) -> web.Response:
    samples = _platform(request).timeline(request.match_info["endpoint_id"])
    return web.json_response([s.to_dict() for s in samples])


def add_routes(app: web.Application, platform) -> None:
    app.router.add_get("/local/status", status)
    app.router.add_get("/local/timeline/{endpoint_id}", timeline)
