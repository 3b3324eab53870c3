"""The local platform's one auth middleware: which key each path needs, checked before any handler.

* RunPod's REST control API (``/v2/serverless``, ``/v2/templates``, ...): ``Authorization: Bearer <key>``
  only, refused with an RFC 9457 problem object, as RunPod does;
* the job API (``/v2/{endpoint}/run|runsync|status|stream|cancel|retry|purge-queue|health``) and the
  local extras (``/local/...``): the user's key, bare or as ``Bearer <key>`` (RunPod takes both);
* the worker protocol (``/v2/{endpoint}/job-take|job-take-batch|job-done|job-stream|job-stop|ping``):
  the workers' own key (``RUNPOD_AI_API_KEY``), refused after a pause because the SDK retries at once.
Other paths (route providers added for tests) need no key.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from playbook.local.servers.control_api.common import is_control_path, refusal

JOB_API_ROUTES = {"run", "runsync", "status", "stream", "cancel", "retry", "purge-queue", "health"}
WORKER_ROUTES = {"job-take", "job-take-batch", "job-done", "job-stream", "job-stop", "ping"}
WORKER_ERROR_PAUSE_S = 1.0


def needed_key(path: str) -> str | None:
    """"control", "user", "worker" or None for a request path."""
    if is_control_path(path):
        return "control"
    if path.startswith("/local/"):
        return "user"
    parts = path.split("/")  # "", "v2", endpoint, route, ...
    if len(parts) >= 4 and parts[1] == "v2":
        if parts[3] in JOB_API_ROUTES:
            return "user"
        if parts[3] in WORKER_ROUTES:
            return "worker"
    return None


def user_key_ok(request: web.Request, key: str) -> bool:
    """RunPod accepts `authorization: <key>`; runpod.Endpoint sends `Bearer <key>`: take both."""
    given = request.headers.get("Authorization", "").strip()
    return given in (key, f"Bearer {key}")


def auth_middleware(platform):
    @web.middleware
    async def auth(request: web.Request, handler):
        needed = needed_key(request.path)
        if needed == "control":
            refused = refusal(request, platform.api_key)
            if refused is not None:
                return refused.response()
        elif needed == "user" and not user_key_ok(request, platform.api_key):
            return web.json_response({"error": "401 Unauthorized: send the platform's API key in the "
                                      "Authorization header (see Target.api_key)."}, status=401)
        elif needed == "worker" and request.headers.get("Authorization", "") != platform.worker_key:
            await asyncio.sleep(WORKER_ERROR_PAUSE_S)
            return web.Response(text=json.dumps({"error": "401 Unauthorized worker"}), status=401,
                                content_type="application/json")
        return await handler(request)

    return auth
