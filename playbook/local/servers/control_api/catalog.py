"""The catalog: ``/v2/catalog/gpus`` (the dated pool table of ``playbook.api.gpus``, with the local stock
table per data center) and ``/v2/catalog/datacenters``."""

from __future__ import annotations

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.servers.control_api.common import DATA_CENTERS, Problem, add_routes_for, ok, state_of


def _availability(state, pool) -> dict:
    dcs = [{"id": dc["id"], "name": dc["name"], "availability": state.stock[(pool.pool_id, dc["id"])]}
           for dc in DATA_CENTERS if state.stock.get((pool.pool_id, dc["id"]), "NONE") != "NONE"]
    out = {"availability": "HIGH" if dcs else "NONE"}
    if dcs:
        out["dataCenters"] = dcs
    out["cudaVersions"] = [{"version": v, "available": True} for v in ("12.4", "12.8")]
    return out


def _gpu_type(pool, type_id: str) -> dict:
    usd_h = round(pool.usd_per_s * 3600, 4) if pool.usd_per_s is not None else None
    return {"id": type_id, "name": type_id.replace("NVIDIA ", "").replace("GeForce ", ""),
            "pool": pool.pool_id, "manufacturer": "NVIDIA", "memory": pool.vram_gb,
            "secure": True, "community": False,
            "price": {"secure": usd_h or 0.0, "community": 0.0, **({"serverless": usd_h} if usd_h else {})},
            "maxCount": {"secure": 8, "community": 0}}


def gpu_types(state, availability: bool) -> list[dict]:
    out = []
    for pool in state.catalog.pools.values():
        for type_id in pool.gpu_types:
            gpu = _gpu_type(pool, type_id)
            if availability:
                gpu.update(_availability(state, pool))
            out.append(gpu)
    return out


def wants(request: web.Request, value: str) -> bool:
    return value in request.query.get("include", "").split(",")


async def list_gpus(request):
    availability = wants(request, "AVAILABILITY")
    if availability and not request.query.get("product"):
        raise Problem(400, "include=AVAILABILITY requires product (e.g. product=SERVERLESS).")
    return ok({"gpus": gpu_types(state_of(request), availability)})


async def get_gpu(request):
    gpus = gpu_types(state_of(request), wants(request, "AVAILABILITY"))
    gpu = next((g for g in gpus if g["id"] == request.match_info["id"]), None)
    if gpu is None:
        raise Problem(404, f"GPU type {excerpt(request.match_info['id'])} does not exist.")
    return ok(gpu)


def datacenter_view(state, dc: dict, gpu_availability: bool) -> dict:
    view = {**dc, "globalNetwork": False, "networkVolumeTypes": ["STANDARD"], "compliance": []}
    if gpu_availability:
        view["gpuAvailability"] = [{"id": t, "name": t, "availability": state.stock[(p.pool_id, dc["id"])]}
                                   for p in state.catalog.pools.values() for t in p.gpu_types]
    return view


async def list_datacenters(request):
    state, detail = state_of(request), wants(request, "GPU_AVAILABILITY")
    return ok({"dataCenters": [datacenter_view(state, dc, detail) for dc in DATA_CENTERS]})


async def get_datacenter(request):
    dc = next((d for d in DATA_CENTERS if d["id"] == request.match_info["id"]), None)
    if dc is None:
        raise Problem(404, f"Data center {excerpt(request.match_info['id'])} does not exist.")
    return ok(datacenter_view(state_of(request), dc, wants(request, "GPU_AVAILABILITY")))


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/catalog/gpus": {"GET": list_gpus},
        "/v2/catalog/gpus/{id}": {"GET": get_gpu},
        "/v2/catalog/datacenters": {"GET": list_datacenters},
        "/v2/catalog/datacenters/{id}": {"GET": get_datacenter},
    })
