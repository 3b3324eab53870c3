"""Network volumes: ``/v2/network-volumes``. Each volume keeps its files in a local folder
(``<build>/network-volumes/<id>``) that the workers of an endpoint using it see as ``/runpod-volume``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Literal

from aiohttp import web
from pydantic import Field

from playbook.api.endpoint_model import Body
from playbook.core.config import build_dir
from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.common import (
    DATA_CENTERS,
    Problem,
    add_routes_for,
    new_id,
    ok,
    parse,
    rest_fields,
    state_of,
)


def volumes_root() -> Path:
    """Where local network volumes keep their files: one folder per volume id."""
    return build_dir() / "network-volumes"


def volume_folder(volume_id: str) -> Path:
    """The local folder that workers of an endpoint using this volume see as /runpod-volume."""
    return volumes_root() / volume_id


class _CreateVolume(Body):
    name: str = Field(min_length=1)
    size: int = Field(ge=10, le=4096)
    dataCenter: str = Field(min_length=1)
    type: Literal["STANDARD", "HIGH_PERFORMANCE"] | None = None


class _UpdateVolume(Body):
    name: str | None = Field(None, min_length=1)
    size: int | None = Field(None, ge=10, le=4096)


def volume_of(request: web.Request) -> dict:
    vol = state_of(request).volumes.get(request.match_info["id"])
    if vol is None:
        raise Problem(404, f"Network volume {excerpt(request.match_info['id'])} does not exist.")
    return vol


async def list_volumes(request):
    return ok({"networkVolumes": list(state_of(request).volumes.values())})


async def create_volume(request):
    body = await parse(request, _CreateVolume)
    if body["dataCenter"] not in {dc["id"] for dc in DATA_CENTERS}:
        raise Problem(400, f"Unknown data center {excerpt(body['dataCenter'])}.",
                      [f"dataCenter: one of {[dc['id'] for dc in DATA_CENTERS]}"])
    vol = {"id": new_id(10), "name": body["name"], "size": body["size"], "dataCenter": body["dataCenter"],
           "type": body.get("type") or "STANDARD"}
    volume_folder(vol["id"]).mkdir(parents=True, exist_ok=True)
    state_of(request).volumes[vol["id"]] = vol
    state_of(request).volume_bills[vol["id"]] = {"id": vol["id"], "size": vol["size"], "type": vol["type"],
                                                 "_created_s": time.time()}
    return ok(vol, 201)


async def get_volume(request):
    return ok(volume_of(request))


async def update_volume(request):
    vol = volume_of(request)
    body = await parse(request, _UpdateVolume)
    if not body:
        raise Problem(422, "Send at least one of name, size.")
    if body.get("size") is not None and body["size"] < vol["size"]:
        raise Problem(400, f"Network volumes cannot shrink ({vol['size']} GB to {body['size']} GB).",
                      ["size: must be at least the current size"])
    vol.update(body)
    state_of(request).volume_bills[vol["id"]]["size"] = vol["size"]  # simplification: a whole life at the latest size
    return ok(vol)


async def delete_volume(request):
    state = state_of(request)
    vol = volume_of(request)
    users = [c.id for c in state.platform.list_endpoints() if vol["id"] in rest_fields(c)["networkVolumes"]]
    if users:
        raise Problem(409, f"Network volume {vol['id']} is attached to endpoint(s) {users}; delete them first.")
    del state.volumes[vol["id"]]
    state.volume_bills[vol["id"]]["_deleted_s"] = time.time()
    folder = volume_folder(vol["id"])
    if folder.is_dir() and volumes_root() in folder.parents:
        shutil.rmtree(folder, ignore_errors=True)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/network-volumes": {"GET": list_volumes, "POST": create_volume},
        "/v2/network-volumes/{id}": {"GET": get_volume, "PATCH": update_volume, "DELETE": delete_volume},
    })
