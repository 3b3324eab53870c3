"""Serverless endpoints: ``/v2/serverless`` (create, list) and ``/v2/serverless/{id}`` (get, PATCH, delete).

An endpoint created here becomes an ``EndpointConfig`` on the platform, live on the job API at once,
with its network volume's local folder as its ``/runpod-volume``; the REST-only fields ride along in
``EndpointConfig.extra["rest"]``."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from playbook.api.endpoint_model import V2_DEFAULT, EndpointCreate, EndpointUpdate
from playbook.core.config import VOLUME_MOUNT
from playbook.core.excerpts import excerpt, listing
from playbook.local.servers.control_api.common import (
    DATA_CENTERS,
    Problem,
    add_routes_for,
    call,
    default_gpu,
    endpoint_of,
    new_config,
    now,
    ok,
    parse,
    release,
    rest_fields,
    state_of,
)
from playbook.local.servers.control_api.releases import diff
from playbook.local.servers.control_api.volumes import volume_folder

CONTAINER_FIELDS = ("image", "env", "disk", "args", "ports", "registry")  # a change makes a new release


# -- the endpoint as the spec shows it ------------------------------------------------------------------

def job_base(request: web.Request) -> str:
    return f"{request.url.scheme}://{request.host}/v2"


def _request_urls(endpoint_id: str, job_base: str) -> dict:
    return {k: f"{job_base}/{endpoint_id}/{p}" for k, p in (
        # job URLs end in "/" for the job id to be appended: the spec's examples show ".../status/{job_id}",
        # which its own `format: uri` rejects (braces are not allowed in URIs)
        ("run", "run"), ("runSync", "runsync"), ("status", "status/"), ("stream", "stream/"),
        ("cancel", "cancel/"), ("retry", "retry/"), ("purgeQueue", "purge-queue"),
        ("health", "health"))}


def endpoint_view(cfg, job_base: str) -> dict:
    rest = rest_fields(cfg)
    # endpoints made in Python may scale at once (scaler_value 0); the REST view keeps to the spec's minimums
    scaling = ({"type": "QUEUE_DELAY", "queueDelay": max(0.5, float(cfg.scaler_value))}
               if cfg.scaler_type == "QUEUE_DELAY"
               else {"type": "REQUEST_COUNT", "requestCount": max(1, int(cfg.scaler_value))})
    workers = {"min": cfg.workers_min, "max": cfg.workers_max}
    if cfg.scaler_type != "REQUEST_COUNT":  # spec (idleTimeout): "omitted from responses for that combination"
        workers["idleTimeout"] = max(1, int(round(cfg.idle_timeout_s)))
    view = {"id": cfg.id, "name": cfg.name, "type": "QUEUE", "requestUrls": _request_urls(cfg.id, job_base),
            "gpu": rest["gpu"], "workers": workers,
            "scaling": scaling, "dataCenterIds": rest["dataCenterIds"], "networkVolumes": rest["networkVolumes"],
            "timeout": int(cfg.execution_timeout_ms), "flashboot": rest["flashboot"],
            "createdAt": rest["createdAt"],
            "env": {k: str(v) for k, v in (rest.get("env", cfg.env or {})).items()},
            "disk": rest["disk"], "registry": rest.get("registry")}
    if cfg.image:
        view["image"] = cfg.image
    for key in ("args", "ports"):
        if rest.get(key) is not None:
            view[key] = rest[key]
    return view


# -- checks ---------------------------------------------------------------------------------------------

def _check_gpu(state, gpu: dict) -> None:
    catalog = state.catalog
    unknown = [p for p in gpu.get("pools") or [] if p not in catalog.pools]
    if unknown:
        raise Problem(400, f"Unknown GPU pool id(s): {listing(unknown, 'unknown')}.",
                      [f"gpu.pools: use pool ids from GET /v2/catalog/gpus, e.g. {list(catalog.pools)[:3]}"])
    if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
        raise Problem(400, "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive.")
    selected = {t for p in gpu.get("pools") or [] for t in catalog[p].gpu_types}
    # spec (excludedTypes): "Rejected with 400 if a value is not a GPU type in one of `pools`"
    strange = [t for t in gpu.get("excludedTypes") or [] if t.strip() not in selected]
    if strange:
        raise Problem(400, f"gpu.excludedTypes names GPU types outside the selected pools: "
                           f"{listing(strange, 'unknown')}.",
                      ["gpu.excludedTypes: use catalog `id`s of GPU types in gpu.pools (GET /v2/catalog/gpus)"])
    if selected and not selected - {t.strip() for t in gpu.get("excludedTypes") or []}:
        raise Problem(400, "gpu.excludedTypes removes every GPU type of the selected pools; keep at least one.")


def _check_data_centers(dcs: list[str] | None) -> None:
    known = {dc["id"] for dc in DATA_CENTERS}
    if dcs is not None and set(dcs) - known:
        raise Problem(400, f"Unknown data center id(s): {listing(sorted(set(dcs) - known), 'unknown')}.",
                      [f"dataCenterIds: known data centers are {sorted(known)}"])


def _check_volumes(state, vols: list[str] | None, dcs: list[str] | None) -> None:
    for vid in vols or []:
        if vid not in state.volumes:
            raise Problem(400, f"Network volume {excerpt(vid)} does not exist.", ["networkVolumes: unknown id"])
    for vid in vols or []:
        if dcs and state.volumes[vid]["dataCenter"] not in dcs:
            raise Problem(400, f"Network volume {vid} is in {state.volumes[vid]['dataCenter']}, which "
                               f"dataCenterIds {excerpt(dcs)} exclude.",
                          ["dataCenterIds: include the volume's data center"])
    if len(vols or []) > 1:
        raise Problem(400, "The local platform mounts one network volume per endpoint.")


def check_compute(state, body: dict, current_dcs: list[str] | None = None) -> None:
    """400 for what RunPod would refuse and for what this platform does not run."""
    if body.get("cpu") is not None:
        raise Problem(400, "CPU endpoints are not supported by the local platform; send `gpu` instead.")
    if body.get("gpu") is not None:
        _check_gpu(state, body["gpu"])
    dcs = body.get("dataCenterIds")
    _check_data_centers(dcs)
    _check_volumes(state, body.get("networkVolumes"), dcs if dcs is not None else current_dcs)


# -- from a request body to platform changes --------------------------------------------------------

def gpu_view(gpu: dict | None, old: dict | None = None) -> dict:
    old = old or default_gpu()
    if gpu is None:
        return old
    view = {**old, **{k: v for k, v in gpu.items() if v is not None}}
    if gpu.get("pools") is not None and gpu.get("excludedTypes") is None:
        # spec (excludedTypes): "a `PATCH` sending `pools` without `excludedTypes` clears them"
        view.pop("excludedTypes", None)
    if view.get("excludedTypes"):
        view["excludedTypes"] = [t.strip() for t in view["excludedTypes"]]  # "Surrounding whitespace is trimmed"
    view.setdefault("allowedCudaVersions", [])
    view["minCudaVersion"] = view.get("minCudaVersion") or None
    if not view.get("excludedTypes"):
        view.pop("excludedTypes", None)
    view.setdefault("count", 1)
    return view


def workers_changes(workers: dict | None) -> dict:
    w = workers or {}
    out = {}
    if w.get("min") is not None:
        out["workers_min"] = w["min"]
    if w.get("max") is not None:
        out["workers_max"] = w["max"]
    if w.get("idleTimeout") is not None:
        out["idle_timeout_s"] = float(w["idleTimeout"])
    return out


def scaling_changes(scaling: dict | None) -> dict:
    if not scaling:
        return {}
    value = scaling.get("queueDelay", scaling.get("requestCount"))
    return {"scaler_type": scaling["type"], "scaler_value": float(value)}


def local_env(env: dict, volume_dir) -> dict:
    """What a local worker process sees: values under /runpod-volume point into the volume's folder
    (the REST view keeps the values as sent)."""
    if not volume_dir:
        return dict(env)
    return {k: str(volume_dir) + v[len(VOLUME_MOUNT):] if v == VOLUME_MOUNT or v.startswith(VOLUME_MOUNT + "/")
            else v for k, v in env.items()}


# -- create -------------------------------------------------------------------------------------------

def _check_idle_timeout(body: dict, scaling_type: str) -> None:
    """spec (workers.idleTimeout): "Not applicable to queue-based endpoints scaling on `requestCount` —
    rejected on create/update"."""
    if scaling_type == "REQUEST_COUNT" and (body.get("workers") or {}).get("idleTimeout") is not None:
        raise Problem(400, "workers.idleTimeout does not apply to REQUEST_COUNT scaling; leave it out (or scale "
                           "on QUEUE_DELAY).", ["workers.idleTimeout: not allowed with REQUEST_COUNT scaling"])


def serverless_template(state, template_id: str) -> dict:
    """The template named by ``templateId``: 404 when unknown, 422 when it is not a serverless template (spec,
    templateId: "must be a serverless template (→ 422)")."""
    template = state.templates.get(template_id)
    if template is None:
        raise Problem(404, f"Template {excerpt(template_id)} does not exist.")
    if not template.get("serverless"):
        raise Problem(422, f"Template {template_id} is a pod template; an endpoint needs a serverless template "
                           '(create one with "serverless": true).', ["templateId: must be a serverless template"])
    return template


def with_template(template: dict, body: dict) -> dict:
    """The body with the template's container fields under it: body fields win, except ``env``, which "is merged
    per key with body values winning" (spec, templateId on create and on PATCH)."""
    merged = {k: template[k] for k in CONTAINER_FIELDS if template.get(k) is not None}
    merged.update({k: v for k, v in body.items() if k != "templateId"})
    if template.get("env") or body.get("env"):
        merged["env"] = {**(template.get("env") or {}), **(body.get("env") or {})}
    return merged


def seeded_gpu(template: dict, gpu: dict | None) -> dict | None:
    """spec (templateId): "The template's allowedCudaVersions seeds `gpu.allowedCudaVersions` when the body
    omits it — but only for a GPU create [...] and not when the body sets `gpu.minCudaVersion`"."""
    if gpu is None or not template.get("allowedCudaVersions") or gpu.get("allowedCudaVersions") is not None \
            or gpu.get("minCudaVersion"):
        return gpu
    return {**gpu, "allowedCudaVersions": list(template["allowedCudaVersions"])}


def _container_of(state, body: dict) -> dict:
    """The container fields: the body's over the template's; an image is required."""
    template = serverless_template(state, body["templateId"]) if body.get("templateId") else {}
    body = with_template(template, body) if template else body
    container = {k: body.get(k) for k in CONTAINER_FIELDS}
    if not container["image"]:
        raise Problem(422, "`image` is required unless `templateId` is set.", ["image: required"])
    return container


def _new_rest(body: dict, container: dict) -> dict:
    rest = {"gpu": gpu_view(body["gpu"], {"count": 1}), "dataCenterIds": body.get("dataCenterIds") or [],
            "networkVolumes": body.get("networkVolumes") or [],
            "flashboot": body.get("flashboot", V2_DEFAULT["flashboot"]),
            "createdAt": now(), "disk": container["disk"] or 10, "registry": container["registry"],
            "args": container["args"], "ports": container["ports"]}
    rest["releases"] = [release(1, [], created_mono=0.0, image=container["image"])]
    rest["env"] = dict(container["env"] or {})
    return rest


def _config_of(body: dict, container: dict, rest: dict):
    from playbook.local.runtime.endpoints import EndpointConfig

    vols = rest["networkVolumes"]
    volume_dir = volume_folder(vols[0]) if vols else None
    workers = body.get("workers") or {}
    return new_config(
        EndpointConfig, name=body["name"], image=container["image"], env=local_env(rest["env"], volume_dir),
        workers_min=workers.get("min", V2_DEFAULT["workers.min"]),
        workers_max=workers.get("max", V2_DEFAULT["workers.max"]),
        idle_timeout_s=float(workers.get("idleTimeout", V2_DEFAULT["workers.idleTimeout"])),
        **scaling_changes(body["scaling"]), execution_timeout_ms=body.get("timeout", V2_DEFAULT["timeout"]),
        volume_dir=volume_dir, template_id=body.get("templateId"),
        extra={"rest": rest})


async def create_endpoint(request):
    state = state_of(request)
    body = await parse(request, EndpointCreate)
    if body["type"] != "QUEUE":
        raise Problem(400, "LOAD_BALANCER endpoints are not supported by the local platform; use type QUEUE.")
    if body.get("gpu") is None:
        raise Problem(400, "Send exactly one of `gpu` or `cpu`; the local platform runs `gpu` endpoints.")
    _check_idle_timeout(body, body["scaling"]["type"])
    container = _container_of(state, body)
    if body.get("templateId"):
        body = {**body, "gpu": seeded_gpu(state.templates[body["templateId"]], body["gpu"])}
    check_compute(state, body)
    cfg = _config_of(body, container, _new_rest(body, container))
    created = await call(state.platform.create_endpoint, cfg)
    return ok(endpoint_view(created, job_base(request)), 201)


# -- read and delete ----------------------------------------------------------------------------------

async def list_endpoints(request):
    platform = state_of(request).platform
    return ok({"endpoints": [endpoint_view(c, job_base(request)) for c in platform.list_endpoints()]})


async def get_endpoint(request):
    return ok(endpoint_view(endpoint_of(request), job_base(request)))


async def delete_endpoint(request):
    cfg = endpoint_of(request)
    platform = state_of(request).platform
    # off the loop, so the platform stops the workers before we answer (no orphaned stop task)
    loop = asyncio.get_running_loop()
    await call(lambda: loop.run_in_executor(None, platform.delete_endpoint, cfg.id))
    return web.Response(status=204)


# -- update -------------------------------------------------------------------------------------------

def _check_update(state, body: dict, rest: dict) -> None:
    if body.get("gpu") is not None and body["gpu"].get("excludedTypes") is not None and not body["gpu"].get("pools"):
        raise Problem(422, "gpu.excludedTypes needs gpu.pools in the same PATCH.", ["gpu.pools: required"])
    check_compute(state, body, current_dcs=rest["dataCenterIds"])
    if body.get("dataCenterIds") is not None and body.get("networkVolumes") is None:
        check_compute(state, {"networkVolumes": rest["networkVolumes"], "dataCenterIds": body["dataCenterIds"]})


def _config_changes(body: dict) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = body["name"]
    if "image" in body:
        changes["image"] = body["image"]
    if "timeout" in body:
        changes["execution_timeout_ms"] = body["timeout"]
    changes.update(workers_changes(body.get("workers")))
    changes.update(scaling_changes(body.get("scaling")))
    return changes


def _updated_rest(cfg, body: dict, rest: dict, changes: dict) -> dict:
    """The new REST fields; also sets ``changes``' volume folder and env when they move."""
    new_rest = dict(rest)
    if body.get("networkVolumes") is not None:
        vols = body["networkVolumes"]
        changes["volume_dir"] = volume_folder(vols[0]) if vols else None
    if "env" in body or "volume_dir" in changes:
        new_rest["env"] = dict(body["env"] or {}) if "env" in body else rest.get("env", dict(cfg.env))
        changes["env"] = local_env(new_rest["env"], changes.get("volume_dir", cfg.volume_dir))
    if body.get("gpu") is not None:
        new_rest["gpu"] = gpu_view({**body["gpu"], **({"minCudaVersion": None} if body["gpu"].get(
            "minCudaVersion") == "" else {})}, rest["gpu"])
    for key in ("dataCenterIds", "networkVolumes", "flashboot", "disk", "registry", "args", "ports"):
        if key in body:
            new_rest[key] = body[key]
    return new_rest


def _record_release(body: dict, updated, before: dict, after: dict, version: int | None = None) -> None:
    """A new release when a container field changed (``version``: the platform's release number for it)."""
    if any(k in body and before.get(k) != after.get(k) for k in CONTAINER_FIELDS):
        releases = rest_fields(updated)["releases"]
        version = max(version or 0, releases[0]["version"] + 1)
        releases.insert(0, release(version, image=updated.image, diff=diff(
            {k: v for k, v in before.items() if k != "requestUrls"},
            {k: v for k, v in after.items() if k != "requestUrls"})))


async def update_endpoint(request):
    state = state_of(request)
    platform = state.platform
    cfg = endpoint_of(request)
    body = await parse(request, EndpointUpdate)
    if body.get("templateId"):  # applied "as if [its fields] were provided in this PATCH body"; no link kept
        body = with_template(serverless_template(state, body["templateId"]), body)
    _check_idle_timeout(body, (body.get("scaling") or {}).get("type") or cfg.scaler_type)
    rest = rest_fields(cfg)
    before = endpoint_view(cfg, job_base(request))
    _check_update(state, body, rest)
    changes = _config_changes(body)
    new_rest = _updated_rest(cfg, body, rest, changes)
    workers_min = changes.get("workers_min", cfg.workers_min)
    if changes.get("workers_max", cfg.workers_max) < workers_min:
        raise Problem(400, "workers.max must be at least workers.min.", ["workers.max: below workers.min"])
    changes["extra"] = {**cfg.extra, "rest": new_rest}
    updated = await call(platform.update_endpoint, cfg.id, **changes)
    updated = updated if updated is not None else platform.get_endpoint(cfg.id)
    after = endpoint_view(updated, job_base(request))
    _record_release(body, updated, before, after, getattr(platform, "endpoint_release", lambda _: None)(cfg.id))
    return ok(after)


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/serverless": {"GET": list_endpoints, "POST": create_endpoint},
        "/v2/serverless/{id}": {"GET": get_endpoint, "PATCH": update_endpoint, "DELETE": delete_endpoint},
    })
