"""The aiohttp application of the local platform. Routes come from route-provider modules, each with
``add_routes(app, platform)``: the job API, the worker protocol, the local extras, and RunPod's REST
control subset (``control_api``)."""

from __future__ import annotations

import importlib

from aiohttp import web

from playbook.local.servers.auth import auth_middleware

ROUTE_PROVIDERS = [
    "playbook.local.servers.control_api",  # REST v2 control subset (/v2/serverless ...)
    "playbook.local.servers.job_api",
    "playbook.local.servers.worker_api",
    "playbook.local.servers.local_api",
    "playbook.local.servers.s3_api",  # RunPod's S3-compatible API for network volumes (/s3api/<dc>/...)
]
PLATFORM = web.AppKey("platform", object)  # module-level handlers find the platform as request.app[PLATFORM]
MAX_REQUEST_BYTES = 64 * 1024 * 1024  # above RunPod's 20 MB so the job API can answer with its own error


def build_app(platform) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[auth_middleware(platform)])
    app[PLATFORM] = platform
    for name in ROUTE_PROVIDERS:
        importlib.import_module(name).add_routes(app, platform)
    return app
