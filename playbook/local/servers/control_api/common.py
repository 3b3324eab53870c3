"""What every resource family of the REST v2 subset shares: RFC 9457 problems, strict body parsing,
ids and timestamps, the control state, and the middleware that checks the key and answers problems."""

from __future__ import annotations

import json
import secrets
import string
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from playbook.api.endpoint_model import Body, error_lines
from playbook.api.gpus import default_catalog
from playbook.core.excerpts import excerpt
from playbook.local.servers.limits import CONTROL_LIMIT_BYTES, BodyError, read_json

DATA_CENTERS = (
    {"id": "EU-RO-1", "name": "Europe Romania 1", "region": "EUROPE"},
    {"id": "US-KS-2", "name": "US Kansas 2", "region": "NORTH_AMERICA"},
    {"id": "US-TX-3", "name": "US Texas 3", "region": "NORTH_AMERICA"},
)
# Local stock: every pool is in stock everywhere except these (pool, data center) pairs, so that plan's
# "no stock there" refusal can be seen locally. ``ControlState.stock`` can be changed at run time.
NO_STOCK = {("HOPPER_141", "EU-RO-1"), ("BLACKWELL_180", "EU-RO-1"), ("ADA_80_PRO", "US-TX-3")}
CONTROL_PREFIXES = ("/v2/serverless", "/v2/templates", "/v2/network-volumes", "/v2/registries", "/v2/catalog",
                    "/v2/pods", "/v2/clusters", "/v2/billing", "/v2/account")


def new_id(n: int = 14) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_gpu() -> dict:
    """The gpu block of an endpoint that never named one (a fresh dict each time)."""
    return {"pools": ["AMPERE_16"], "count": 1, "allowedCudaVersions": [], "minCudaVersion": None}


# -- problems ----------------------------------------------------------------------------------------

class Problem(Exception):
    """An RFC 9457 problem to answer with."""

    TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
              409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Entity"}

    def __init__(self, status: int, detail: str, errors: list[str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []

    def response(self) -> web.Response:
        body: dict[str, Any] = {"title": self.TITLES.get(self.status, "Error"), "status": self.status,
                                "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return web.Response(status=self.status, text=json.dumps(body), content_type="application/problem+json")


def ok(body, status=200) -> web.Response:
    return web.json_response(body, status=status)


async def call(fn, *args, **kwargs):
    """Platform methods may be plain or async; the ConfigError of a bad config becomes a 400 problem."""
    from playbook.core.errors import PlaybookError

    try:
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result
    except PlaybookError as exc:
        raise Problem(400, str(exc)) from None


def new_config(cls, **fields):
    from playbook.core.errors import PlaybookError

    try:
        return cls(**fields)
    except PlaybookError as exc:
        raise Problem(400, str(exc)) from None


# -- request bodies (the spec's schemas, strict: unknown fields are 422 as on RunPod) -----------------

async def parse(request: web.Request, model: type[Body]) -> dict:
    """The JSON body, checked against ``model`` (named as the spec names it)."""
    try:
        data = await read_json(request, CONTROL_LIMIT_BYTES, "request body")
    except BodyError as exc:
        raise Problem(exc.status, exc.message) from None
    if not isinstance(data, dict):
        raise Problem(422, "The request body must be a JSON object.")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        name = getattr(model, "spec_name", None) or model.__name__.lstrip("_") + "Request"
        raise Problem(422, f"The request body does not match {name}.", error_lines(exc)) from None
    return data


# -- state --------------------------------------------------------------------------------------------

class ControlState:
    """Volumes, templates, registries and the catalog; endpoints live on the platform itself, with
    their REST-only fields in ``EndpointConfig.extra["rest"]`` (see ``rest_fields``)."""

    def __init__(self, platform):
        self.platform = platform
        self.volumes: dict[str, dict] = {}
        # what billing needs of every volume ever made: id, size, type, _created_s, _deleted_s (wall clock)
        self.volume_bills: dict[str, dict] = {}
        self.templates: dict[str, dict] = {}
        self.registries: dict[str, dict] = {}  # id -> {id, name, username, password}
        self.catalog = default_catalog()
        self.stock = {(p, dc["id"]): ("NONE" if (p, dc["id"]) in NO_STOCK else "HIGH")
                      for p in self.catalog.pools for dc in DATA_CENTERS}


STATE = web.AppKey("control_state", ControlState)


def state_of(request: web.Request) -> ControlState:
    return request.app[STATE]


def release(version: int, diff: list[dict], created_mono: float | None = None, image: str | None = None) -> dict:
    """A release; keys starting with "_" are internal (when it was made, its image) and never sent."""
    return {"id": new_id(8), "version": version, "source": "MANUAL", "buildId": None, "createdByUserId": None,
            "createdAt": now(), "diff": diff, "_image": image,
            "_mono": time.monotonic() if created_mono is None else created_mono}


def rest_fields(cfg) -> dict:
    """An endpoint's REST-only fields, with defaults for endpoints made in Python rather than over REST."""
    rest = cfg.extra.setdefault("rest", {})
    rest.setdefault("gpu", default_gpu())
    rest.setdefault("dataCenterIds", [])
    rest.setdefault("networkVolumes", [])
    rest.setdefault("flashboot", "OFF")
    rest.setdefault("createdAt", now())
    rest.setdefault("disk", 10)
    rest.setdefault("releases", [release(1, [], created_mono=0.0)])
    return rest


def endpoint_of(request: web.Request) -> Any:
    """The platform's endpoint named by the path, or a 404 problem."""
    eid = request.match_info["id"]
    try:
        cfg = state_of(request).platform.get_endpoint(eid)
    except Exception:
        cfg = None
    if cfg is None:
        raise Problem(404, f"Endpoint {excerpt(eid)} does not exist.")
    return cfg


def add_routes_for(app: web.Application, table: dict) -> None:
    """Register ``{path: {method: handler}}``."""
    for path, handlers in table.items():
        resource = app.router.add_resource(path)
        for method, handler in handlers.items():
            resource.add_route(method, handler)


# -- the middleware -----------------------------------------------------------------------------------

def is_control_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in CONTROL_PREFIXES)


def refusal(request: web.Request, expected: str) -> Problem | None:
    """The 401 problem for a control request without ``Bearer <expected>`` (None when it has it)."""
    auth = request.headers.get("Authorization", "")
    if auth == f"Bearer {expected}":
        return None
    detail = ("Send `Authorization: Bearer <api key>`." if not auth.startswith("Bearer ")
              else "The API key is not valid.")
    return Problem(401, detail)


def problems_middleware(platform):
    """On control paths (their key is checked by ``servers.auth``), refusals, unknown paths and methods
    become problems."""

    @web.middleware
    async def problems(request: web.Request, handler):
        if not is_control_path(request.path):
            return await handler(request)
        try:
            return await handler(request)
        except Problem as p:
            return p.response()
        except web.HTTPNotFound:
            return Problem(404, f"No such resource: {request.path}.").response()
        except web.HTTPMethodNotAllowed:
            return Problem(405, f"{request.method} is not allowed on {request.path}.").response()

    return problems
