"""Templates: ``/v2/templates``. An endpoint copies its template's container fields when it is created,
so changing a template later changes no endpoint."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from playbook.api.endpoint_model import Body, Container, Cuda
from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.common import (
    Problem,
    add_routes_for,
    new_id,
    ok,
    parse,
    state_of,
)


class _PersistentMount(Body):
    size: int = Field(ge=10)
    path: str


class _Mounts(Body):  # TemplateMounts: "Templates support only a single persistent mount today"
    persistent: _PersistentMount | None = None


class _Template(Container):
    name: str | None = Field(None, min_length=1)
    allowedCudaVersions: list[Cuda] | None = None
    category: Literal["CPU", "NVIDIA", "AMD"] | None = None
    mounts: _Mounts | None = None
    public: bool | None = None
    serverless: bool | None = None
    startJupyter: bool | None = None
    startSsh: bool | None = None


def template_of(request: web.Request) -> dict:
    tpl = state_of(request).templates.get(request.match_info["id"])
    if tpl is None:
        raise Problem(404, f"Template {excerpt(request.match_info['id'])} does not exist.")
    return tpl


async def list_templates(request):
    return ok({"templates": list(state_of(request).templates.values())})


def _new_template(body: dict) -> dict:
    return {"id": new_id(10), "name": body["name"], "image": body["image"], "args": body.get("args", ""),
            "disk": body.get("disk", 10), "mounts": body.get("mounts", {}), "ports": body.get("ports", []),
            "env": body.get("env", {}), "registry": body.get("registry"),
            "serverless": body.get("serverless", False), "public": body.get("public", False),
            "category": body.get("category", "NVIDIA"), "startSsh": body.get("startSsh", True),
            "startJupyter": body.get("startJupyter", True),
            "allowedCudaVersions": body.get("allowedCudaVersions", [])}


async def create_template(request):
    body = await parse(request, _Template)
    missing = [k for k in ("name", "image") if not body.get(k)]
    if missing:
        raise Problem(422, "Missing required field(s).", [f"{k}: required" for k in missing])
    tpl = _new_template(body)
    state_of(request).templates[tpl["id"]] = tpl
    return ok(tpl, 201)


async def get_template(request):
    return ok(template_of(request))


async def update_template(request):
    tpl = template_of(request)
    body = await parse(request, _Template)
    tpl.update({k: v for k, v in body.items() if not (k == "mounts" and not v)})
    return ok(tpl)  # endpoints copied the template at create time: nothing else changes


async def delete_template(request):
    state = state_of(request)
    tpl = template_of(request)
    users = [c.id for c in state.platform.list_endpoints() if getattr(c, "template_id", None) == tpl["id"]]
    if users:
        raise Problem(400, f"Template {tpl['id']} is used by endpoint(s) {users}; delete them first.")
    del state.templates[tpl["id"]]
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/templates": {"GET": list_templates, "POST": create_template},
        "/v2/templates/{id}": {"GET": get_template, "PATCH": update_template, "DELETE": delete_template},
    })
