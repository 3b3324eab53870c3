"""Local-only extras, outside RunPod's paths (under /local/): what `playbook local status` and the
monitoring plots need from a platform running in another process."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from playbook.local.servers.job_api import user_key_ok


def add_routes(app: web.Application, platform) -> None:
    def check(request):
        if not user_key_ok(request, platform.api_key):
            raise web.HTTPUnauthorized(text='{"error": "401 Unauthorized"}', content_type="application/json")

    async def status(request):
        check(request)
        return web.json_response(platform.snapshot())

    async def timeline(request):
        check(request)
        samples = platform.timeline(request.match_info["endpoint_id"])
        return web.json_response([s.to_dict() for s in samples])

    async def workers(request):
        check(request)
        include_exited = request.query.get("include_exited", "0") in ("1", "true")
        found = platform.list_workers(request.match_info["endpoint_id"], include_exited=include_exited)
        return web.json_response([asdict(w) for w in found])

    app.router.add_get("/local/status", status)
    app.router.add_get("/local/workers/{endpoint_id}", workers)
    app.router.add_get("/local/timeline/{endpoint_id}", timeline)
