"""Container registry credentials: ``/v2/registries``. Credentials are kept in memory and never returned."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from playbook.api.endpoint_model import Body
from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.common import Problem, add_routes_for, new_id, ok, parse, state_of


class _CreateRegistry(Body):
    name: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


def _public(reg: dict) -> dict:
    return {"id": reg["id"], "name": reg["name"]}


async def list_registries(request):
    return ok({"registries": [_public(r) for r in state_of(request).registries.values()]})


async def create_registry(request):
    body = await parse(request, _CreateRegistry)
    reg = {"id": new_id(10), **body}
    state_of(request).registries[reg["id"]] = reg
    return ok(_public(reg), 201)


async def get_registry(request):
    reg = state_of(request).registries.get(request.match_info["id"])
    if reg is None:
        raise Problem(404, f"Registry {excerpt(request.match_info['id'])} does not exist.")
    return ok(_public(reg))


async def delete_registry(request):
    if state_of(request).registries.pop(request.match_info["id"], None) is None:
        raise Problem(404, f"Registry {excerpt(request.match_info['id'])} does not exist.")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/registries": {"GET": list_registries, "POST": create_registry},
        "/v2/registries/{id}": {"GET": get_registry, "DELETE": delete_registry},
    })
