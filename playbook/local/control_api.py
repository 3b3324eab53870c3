"""RunPod's REST API v2 subset, served by the local platform on loopback.

Why: ``playbook.deploy`` and ``playbook.control`` must run unchanged against RunPod and against the
laptop. So the local platform answers the same paths as ``https://api.runpod.io/v2`` with the spec's
shapes: wrapped lists (``{"endpoints": [...]}``), ``201`` on create, ``204`` on delete, and RFC 9457
problem objects (``application/problem+json``: ``title``, ``status``, ``detail``, ``errors``) for every
refusal. The contract tests validate every response here against ``rest-v2-beta.openapi.json``.

What it serves: ``/v2/serverless`` (create, list, get, PATCH, delete; ``/workers``; ``/releases``),
``/v2/templates``, ``/v2/network-volumes``, ``/v2/registries`` (credentials are kept in memory and never
returned), ``/v2/catalog/gpus`` (the dated pool table of ``playbook.gpus`` with a local stock table per
data center) and ``/v2/catalog/datacenters``. An endpoint created here becomes an ``EndpointConfig`` on
the platform, live on the job API at once, with its network volume's local folder
(``<build>/network-volumes/<id>``) as its ``/runpod-volume``. Not served: pods, clusters, billing,
worker logs, CPU endpoints, load-balancer endpoints, ECR delegations, SSH keys.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import string
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbook.config import VOLUME_MOUNT, build_dir
from playbook.gpus import default_catalog

DATA_CENTERS = (
    {"id": "EU-RO-1", "name": "Europe Romania 1", "region": "EUROPE"},
    {"id": "US-KS-2", "name": "US Kansas 2", "region": "NORTH_AMERICA"},
    {"id": "US-TX-3", "name": "US Texas 3", "region": "NORTH_AMERICA"},
)
# Local stock: every pool is in stock everywhere except these (pool, data center) pairs, so that plan's
# "no stock there" refusal can be seen locally. ``ControlState.stock`` can be changed at run time.
NO_STOCK = {("HOPPER_141", "EU-RO-1"), ("BLACKWELL_180", "EU-RO-1"), ("ADA_80_PRO", "US-TX-3")}
CONTAINER_FIELDS = ("image", "env", "disk", "args", "ports", "registry")  # a change makes a new release


def volumes_root() -> Path:
    """Where local network volumes keep their files: one folder per volume id."""
    return build_dir() / "network-volumes"


def volume_folder(volume_id: str) -> Path:
    """The local folder that workers of an endpoint using this volume see as /runpod-volume."""
    return volumes_root() / volume_id


def _id(n: int = 14) -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- request bodies (the spec's schemas, strict: unknown fields are 422 as on RunPod) -----------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Workers(_Body):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    idleTimeout: int | None = Field(None, ge=1, le=3600)


class _QueueDelay(_Body):
    type: Literal["QUEUE_DELAY"]
    queueDelay: float = Field(ge=0.5)


class _RequestCount(_Body):
    type: Literal["REQUEST_COUNT"]
    requestCount: int = Field(ge=1)


_Scaling = Annotated[Union[_QueueDelay, _RequestCount], Field(discriminator="type")]
_Cuda = Annotated[str, Field(pattern=r"^\d+\.\d+$")]


class _Gpu(_Body):
    pools: list[str] | None = Field(None, min_length=1)
    excludedTypes: list[str] | None = None
    count: int | None = Field(None, ge=1)
    allowedCudaVersions: list[_Cuda] | None = None
    minCudaVersion: Annotated[str, Field(pattern=r"^$|^\d+\.\d+$")] | None = None


class _Container(_Body):
    image: str | None = None
    args: str | None = None
    disk: int | None = Field(None, ge=1)
    env: dict[str, str] | None = None
    ports: list[str] | None = None
    registry: str | None = None


class _UpdateEndpoint(_Container):
    name: str | None = Field(None, min_length=1)
    gpu: _Gpu | None = None
    cpu: list[dict] | None = None
    dataCenterIds: list[str] | None = None
    networkVolumes: list[str] | None = None
    scaling: _Scaling | None = None
    templateId: str | None = None
    timeout: int | None = None
    flashboot: Literal["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"] | None = None
    workers: _Workers | None = None


class _CreateEndpoint(_UpdateEndpoint):
    name: str = Field(min_length=1)
    type: Literal["QUEUE", "LOAD_BALANCER"]
    scaling: _Scaling


class _Template(_Container):
    name: str | None = Field(None, min_length=1)
    allowedCudaVersions: list[_Cuda] | None = None
    category: Literal["CPU", "NVIDIA", "AMD"] | None = None
    mounts: dict | None = None
    public: bool | None = None
    serverless: bool | None = None
    startJupyter: bool | None = None
    startSsh: bool | None = None


class _CreateVolume(_Body):
    name: str = Field(min_length=1)
    size: int = Field(ge=10, le=4096)
    dataCenter: str = Field(min_length=1)
    type: Literal["STANDARD", "HIGH_PERFORMANCE"] | None = None


class _UpdateVolume(_Body):
    name: str | None = Field(None, min_length=1)
    size: int | None = Field(None, ge=10, le=4096)


class _CreateRegistry(_Body):
    name: str = Field(min_length=1)
    username: str = Field(min_length=1)
    password: str = Field(min_length=1)


class Problem(Exception):
    """An RFC 9457 problem to answer with."""

    TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
              409: "Conflict", 422: "Unprocessable Entity"}

    def __init__(self, status: int, detail: str, errors: list[str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []

    def response(self) -> web.Response:
        body: dict[str, Any] = {"title": self.TITLES.get(self.status, "Error"), "status": self.status,
                                "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return web.Response(status=self.status, text=json.dumps(body), content_type="application/problem+json")


async def _parse(request: web.Request, model: type[_Body]) -> dict:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(422, "The request body must be a JSON object.")
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("_", "function"))) or "body"
            msg = "unknown field (not in the schema)" if err["type"] == "extra_forbidden" else err["msg"]
            errors.append(f"{where}: {msg}")
        raise Problem(422, f"The request body does not match {model.__name__.lstrip('_')}Request.",
                      errors) from None
    return data


# -- state ------------------------------------------------------------------------------------------

class ControlState:
    """Volumes, templates, registries and the catalog; endpoints live on the platform itself, with
    their REST-only fields in ``EndpointConfig.extra["rest"]``."""

    def __init__(self, platform):
        self.platform = platform
        self.volumes: dict[str, dict] = {}
        self.templates: dict[str, dict] = {}
        self.registries: dict[str, dict] = {}  # id -> {id, name, username, password}
        self.catalog = default_catalog()
        self.stock = {(p, dc["id"]): ("NONE" if (p, dc["id"]) in NO_STOCK else "HIGH")
                      for p in self.catalog.pools for dc in DATA_CENTERS}

    # endpoints as the spec shows them
    def endpoint_view(self, cfg, job_base: str) -> dict:
        rest = self._rest(cfg)
        urls = {k: f"{job_base}/{cfg.id}/{p}" for k, p in (
            # job URLs end in "/" for the job id to be appended: the spec's examples show ".../status/{job_id}",
            # which its own `format: uri` rejects (braces are not allowed in URIs)
            ("run", "run"), ("runSync", "runsync"), ("status", "status/"), ("stream", "stream/"),
            ("cancel", "cancel/"), ("retry", "retry/"), ("purgeQueue", "purge-queue"),
            ("health", "health"))}
        scaling = ({"type": "QUEUE_DELAY", "queueDelay": float(cfg.scaler_value)} if cfg.scaler_type == "QUEUE_DELAY"
                   else {"type": "REQUEST_COUNT", "requestCount": int(cfg.scaler_value)})
        view = {"id": cfg.id, "name": cfg.name, "type": "QUEUE", "requestUrls": urls,
                "gpu": rest["gpu"], "workers": {"min": cfg.workers_min, "max": cfg.workers_max,
                                                "idleTimeout": max(1, int(round(cfg.idle_timeout_s)))},
                "scaling": scaling, "dataCenterIds": rest["dataCenterIds"], "networkVolumes": rest["networkVolumes"],
                "timeout": int(cfg.execution_timeout_ms), "flashboot": rest["flashboot"],
                "createdAt": rest["createdAt"],
                "env": {k: str(v) for k, v in (rest["env"] if "env" in rest else cfg.env or {}).items()},
                "disk": rest["disk"], "registry": rest.get("registry")}
        if cfg.image:
            view["image"] = cfg.image
        for key in ("args", "ports"):
            if rest.get(key) is not None:
                view[key] = rest[key]
        return view

    @staticmethod
    def _rest(cfg) -> dict:
        """REST-only fields, with defaults for endpoints made in Python rather than over REST."""
        rest = cfg.extra.setdefault("rest", {})
        rest.setdefault("gpu", {"pools": ["AMPERE_16"], "count": 1, "allowedCudaVersions": [], "minCudaVersion": None})
        rest.setdefault("dataCenterIds", [])
        rest.setdefault("networkVolumes", [])
        rest.setdefault("flashboot", "OFF")
        rest.setdefault("createdAt", _now())
        rest.setdefault("disk", 10)
        rest.setdefault("releases", [_release(1, [], created_mono=0.0)])
        return rest

    def check_compute(self, body: dict, current_dcs: list[str] | None = None) -> None:
        """400 for what RunPod would refuse and for what this platform does not run."""
        if body.get("cpu") is not None:
            raise Problem(400, "CPU endpoints are not supported by the local platform; send `gpu` instead.")
        gpu = body.get("gpu")
        if gpu is not None:
            unknown = [p for p in gpu.get("pools") or [] if p not in self.catalog.pools]
            if unknown:
                raise Problem(400, f"Unknown GPU pool id(s): {unknown}.",
                              [f"gpu.pools: use pool ids from GET /v2/catalog/gpus, e.g. {list(self.catalog.pools)[:3]}"])
            if gpu.get("allowedCudaVersions") and gpu.get("minCudaVersion"):
                raise Problem(400, "gpu.allowedCudaVersions and gpu.minCudaVersion are mutually exclusive.")
            selected = {t for p in gpu.get("pools") or [] for t in self.catalog[p].gpu_types}
            if selected and not selected - set(gpu.get("excludedTypes") or []):
                raise Problem(400, "gpu.excludedTypes removes every GPU type of the selected pools; keep at least one.")
        dcs = body.get("dataCenterIds")
        known = {dc["id"] for dc in DATA_CENTERS}
        if dcs is not None and set(dcs) - known:
            raise Problem(400, f"Unknown data center id(s): {sorted(set(dcs) - known)}.",
                          [f"dataCenterIds: known data centers are {sorted(known)}"])
        vols = body.get("networkVolumes")
        for vid in vols or []:
            if vid not in self.volumes:
                raise Problem(400, f"Network volume {vid!r} does not exist.", ["networkVolumes: unknown id"])
        dcs = dcs if dcs is not None else current_dcs
        for vid in vols or []:
            if dcs and self.volumes[vid]["dataCenter"] not in dcs:
                raise Problem(400, f"Network volume {vid} is in {self.volumes[vid]['dataCenter']}, which "
                                   f"dataCenterIds {dcs} exclude.", ["dataCenterIds: include the volume's data center"])
        if len(vols or []) > 1:
            raise Problem(400, "The local platform mounts one network volume per endpoint.")


def _gpu_view(gpu: dict | None, old: dict | None = None) -> dict:
    old = old or {"pools": ["AMPERE_16"], "count": 1, "allowedCudaVersions": [], "minCudaVersion": None}
    if gpu is None:
        return old
    view = {**old, **{k: v for k, v in gpu.items() if v is not None}}
    view.setdefault("allowedCudaVersions", [])
    view["minCudaVersion"] = view.get("minCudaVersion") or None
    if not view.get("excludedTypes"):
        view.pop("excludedTypes", None)
    view.setdefault("count", 1)
    return view


def _workers_changes(workers: dict | None) -> dict:
    w = workers or {}
    out = {}
    if w.get("min") is not None:
        out["workers_min"] = w["min"]
    if w.get("max") is not None:
        out["workers_max"] = w["max"]
    if w.get("idleTimeout") is not None:
        out["idle_timeout_s"] = float(w["idleTimeout"])
    return out


def _scaling_changes(scaling: dict | None) -> dict:
    if not scaling:
        return {}
    value = scaling.get("queueDelay", scaling.get("requestCount"))
    return {"scaler_type": scaling["type"], "scaler_value": float(value)}


def _flat(prefix: str, value: Any) -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}", v))
        return out or {prefix: {}}
    return {prefix: value}


def _diff(old: dict, new: dict) -> list[dict]:
    a, b = _flat("", old), _flat("", new)
    return [{"field": k[1:], "old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def add_routes(app: web.Application, platform) -> None:
    """Register the REST v2 subset on the platform's aiohttp app (the server's route-provider hook)."""
    from playbook.local.endpoints import EndpointConfig

    state = ControlState(platform)
    platform.control_state = state
    key = getattr(platform, "api_key", None)

    def job_base(request: web.Request) -> str:
        return f"{request.url.scheme}://{request.host}/v2"

    @web.middleware
    async def problems(request: web.Request, handler):
        if not _is_control_path(request.path):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        expected = key or platform.target.api_key.reveal()
        if auth != f"Bearer {expected}":
            detail = ("Send `Authorization: Bearer <api key>`." if not auth.startswith("Bearer ")
                      else "The API key is not valid.")
            return Problem(401, detail).response()
        try:
            return await handler(request)
        except Problem as p:
            return p.response()
        except web.HTTPNotFound:
            return Problem(404, f"No such resource: {request.path}.").response()
        except web.HTTPMethodNotAllowed:
            return Problem(405, f"{request.method} is not allowed on {request.path}.").response()

    app.middlewares.append(problems)

    def endpoint_cfg(request) -> Any:
        eid = request.match_info["id"]
        try:
            cfg = platform.get_endpoint(eid)
        except Exception:
            cfg = None
        if cfg is None:
            raise Problem(404, f"Endpoint {eid!r} does not exist.")
        return cfg

    def ok(body, status=200):
        return web.json_response(body, status=status)

    # -- serverless -------------------------------------------------------------------------------
    async def list_endpoints(request):
        return ok({"endpoints": [state.endpoint_view(c, job_base(request)) for c in platform.list_endpoints()]})

    async def create_endpoint(request):
        body = await _parse(request, _CreateEndpoint)
        if body["type"] != "QUEUE":
            raise Problem(400, "LOAD_BALANCER endpoints are not supported by the local platform; use type QUEUE.")
        if body.get("gpu") is None:
            raise Problem(400, "Send exactly one of `gpu` or `cpu`; the local platform runs `gpu` endpoints.")
        template = {}
        if body.get("templateId"):
            template = state.templates.get(body["templateId"])
            if template is None:
                raise Problem(404, f"Template {body['templateId']!r} does not exist.")
        container = {k: body.get(k, template.get(k)) for k in CONTAINER_FIELDS}
        if not container["image"]:
            raise Problem(422, "`image` is required unless `templateId` is set.", ["image: required"])
        state.check_compute(body)
        workers = body.get("workers") or {}
        rest = {"gpu": _gpu_view(body["gpu"], {"count": 1}), "dataCenterIds": body.get("dataCenterIds") or [],
                "networkVolumes": body.get("networkVolumes") or [], "flashboot": body.get("flashboot", "OFF"),
                "createdAt": _now(), "disk": container["disk"] or 10, "registry": container["registry"],
                "args": container["args"], "ports": container["ports"]}
        rest["releases"] = [_release(1, [], created_mono=0.0, image=container["image"])]
        vols = rest["networkVolumes"]
        rest["env"] = dict(container["env"] or {})
        volume_dir = volume_folder(vols[0]) if vols else None
        cfg = _new_config(
            EndpointConfig, name=body["name"], image=container["image"], env=_local_env(rest["env"], volume_dir),
            workers_min=workers.get("min", 0), workers_max=workers.get("max", 3),
            idle_timeout_s=float(workers.get("idleTimeout", 10)),
            **_scaling_changes(body["scaling"]), execution_timeout_ms=body.get("timeout", 300000),
            volume_dir=volume_dir, template_id=body.get("templateId"),
            extra={"rest": rest})
        created = await _call(platform.create_endpoint, cfg)
        return ok(state.endpoint_view(created, job_base(request)), 201)

    async def get_endpoint(request):
        return ok(state.endpoint_view(endpoint_cfg(request), job_base(request)))

    async def update_endpoint(request):
        cfg = endpoint_cfg(request)
        body = await _parse(request, _UpdateEndpoint)
        rest = state._rest(cfg)
        before = state.endpoint_view(cfg, job_base(request))
        if body.get("gpu") is not None and body["gpu"].get("excludedTypes") is not None and not body["gpu"].get("pools"):
            raise Problem(422, "gpu.excludedTypes needs gpu.pools in the same PATCH.", ["gpu.pools: required"])
        state.check_compute(body, current_dcs=rest["dataCenterIds"])
        if body.get("dataCenterIds") is not None and body.get("networkVolumes") is None:
            state.check_compute({"networkVolumes": rest["networkVolumes"], "dataCenterIds": body["dataCenterIds"]})
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = body["name"]
        if "image" in body:
            changes["image"] = body["image"]
        if "timeout" in body:
            changes["execution_timeout_ms"] = body["timeout"]
        changes.update(_workers_changes(body.get("workers")))
        changes.update(_scaling_changes(body.get("scaling")))
        new_rest = dict(rest)
        if body.get("networkVolumes") is not None:
            vols = body["networkVolumes"]
            changes["volume_dir"] = volume_folder(vols[0]) if vols else None
        if "env" in body or "volume_dir" in changes:
            new_rest["env"] = dict(body["env"] or {}) if "env" in body else rest.get("env", dict(cfg.env))
            changes["env"] = _local_env(new_rest["env"], changes.get("volume_dir", cfg.volume_dir))
        if body.get("gpu") is not None:
            new_rest["gpu"] = _gpu_view({**body["gpu"], **({"minCudaVersion": None} if body["gpu"].get(
                "minCudaVersion") == "" else {})}, rest["gpu"])
        for key in ("dataCenterIds", "networkVolumes", "flashboot", "disk", "registry", "args", "ports"):
            if key in body:
                new_rest[key] = body[key]
        workers_min = changes.get("workers_min", cfg.workers_min)
        if changes.get("workers_max", cfg.workers_max) < workers_min:
            raise Problem(400, "workers.max must be at least workers.min.", ["workers.max: below workers.min"])
        changes["extra"] = {**cfg.extra, "rest": new_rest}
        updated = await _call(platform.update_endpoint, cfg.id, **changes)
        updated = updated if updated is not None else platform.get_endpoint(cfg.id)
        after = state.endpoint_view(updated, job_base(request))
        if any(k in body and before.get(k) != after.get(k) for k in CONTAINER_FIELDS):
            releases = state._rest(updated)["releases"]
            releases.insert(0, _release(releases[0]["version"] + 1, image=updated.image, diff=_diff(
                {k: v for k, v in before.items() if k != "requestUrls"},
                {k: v for k, v in after.items() if k != "requestUrls"})))
        return ok(after)

    async def delete_endpoint(request):
        cfg = endpoint_cfg(request)
        # off the loop, so the platform stops the workers before we answer (no orphaned stop task)
        loop = asyncio.get_running_loop()
        await _call(lambda: loop.run_in_executor(None, platform.delete_endpoint, cfg.id))
        return web.Response(status=204)

    async def endpoint_workers(request):
        cfg = endpoint_cfg(request)
        version = state._rest(cfg)["releases"][0]["version"]
        releases = state._rest(cfg)["releases"]
        workers = [_worker_view(w, cfg, releases, getattr(getattr(platform, "engine", None), "t0", None)) for w in _list_workers(platform, cfg.id)]
        counts = {s: sum(w["status"] == s.upper() for w in workers)
                  for s in ("running", "idle", "initializing", "throttled", "unhealthy")}
        return ok({"workers": workers, "summary": {**counts, "total": len(workers)}, "endpointVersion": version})

    async def endpoint_releases(request):
        cfg = endpoint_cfg(request)
        releases = state._rest(cfg)["releases"]
        workers = [_worker_view(w, cfg, releases, getattr(getattr(platform, "engine", None), "t0", None)) for w in _list_workers(platform, cfg.id)]
        on_latest = sum(not w["isStale"] for w in workers)
        out = [{**{k: v for k, v in r.items() if not k.startswith("_")},
                "workerCount": sum(w["version"] == r["version"] for w in workers)} for r in releases]
        return ok({"endpointVersion": releases[0]["version"], "releases": out, "rollout": {
            "inProgress": on_latest < len(workers), "workersOnLatest": on_latest, "workersTotal": len(workers),
            "percentOnLatest": 100 if not workers else int(100 * on_latest / len(workers))}})

    # -- templates --------------------------------------------------------------------------------
    def template_of(request) -> dict:
        tpl = state.templates.get(request.match_info["id"])
        if tpl is None:
            raise Problem(404, f"Template {request.match_info['id']!r} does not exist.")
        return tpl

    async def list_templates(request):
        return ok({"templates": list(state.templates.values())})

    async def create_template(request):
        body = await _parse(request, _Template)
        missing = [k for k in ("name", "image") if not body.get(k)]
        if missing:
            raise Problem(422, "Missing required field(s).", [f"{k}: required" for k in missing])
        tpl = {"id": _id(10), "name": body["name"], "image": body["image"], "args": body.get("args", ""),
               "disk": body.get("disk", 10), "mounts": body.get("mounts", {}), "ports": body.get("ports", []),
               "env": body.get("env", {}), "registry": body.get("registry"),
               "serverless": body.get("serverless", False), "public": body.get("public", False),
               "category": body.get("category", "NVIDIA"), "startSsh": body.get("startSsh", True),
               "startJupyter": body.get("startJupyter", True),
               "allowedCudaVersions": body.get("allowedCudaVersions", [])}
        state.templates[tpl["id"]] = tpl
        return ok(tpl, 201)

    async def get_template(request):
        return ok(template_of(request))

    async def update_template(request):
        tpl = template_of(request)
        body = await _parse(request, _Template)
        tpl.update({k: v for k, v in body.items() if not (k == "mounts" and not v)})
        return ok(tpl)  # endpoints copied the template at create time: nothing else changes

    async def delete_template(request):
        tpl = template_of(request)
        users = [c.id for c in platform.list_endpoints() if getattr(c, "template_id", None) == tpl["id"]]
        if users:
            raise Problem(400, f"Template {tpl['id']} is used by endpoint(s) {users}; delete them first.")
        del state.templates[tpl["id"]]
        return web.Response(status=204)

    # -- network volumes --------------------------------------------------------------------------
    def volume_of(request) -> dict:
        vol = state.volumes.get(request.match_info["id"])
        if vol is None:
            raise Problem(404, f"Network volume {request.match_info['id']!r} does not exist.")
        return vol

    async def list_volumes(request):
        return ok({"networkVolumes": list(state.volumes.values())})

    async def create_volume(request):
        body = await _parse(request, _CreateVolume)
        if body["dataCenter"] not in {dc["id"] for dc in DATA_CENTERS}:
            raise Problem(400, f"Unknown data center {body['dataCenter']!r}.",
                          [f"dataCenter: one of {[dc['id'] for dc in DATA_CENTERS]}"])
        vol = {"id": _id(10), "name": body["name"], "size": body["size"], "dataCenter": body["dataCenter"],
               "type": body.get("type") or "STANDARD"}
        volume_folder(vol["id"]).mkdir(parents=True, exist_ok=True)
        state.volumes[vol["id"]] = vol
        return ok(vol, 201)

    async def get_volume(request):
        return ok(volume_of(request))

    async def update_volume(request):
        vol = volume_of(request)
        body = await _parse(request, _UpdateVolume)
        if not body:
            raise Problem(422, "Send at least one of name, size.")
        if body.get("size") is not None and body["size"] < vol["size"]:
            raise Problem(400, f"Network volumes cannot shrink ({vol['size']} GB to {body['size']} GB).",
                          ["size: must be at least the current size"])
        vol.update(body)
        return ok(vol)

    async def delete_volume(request):
        vol = volume_of(request)
        users = [c.id for c in platform.list_endpoints() if vol["id"] in state._rest(c)["networkVolumes"]]
        if users:
            raise Problem(409, f"Network volume {vol['id']} is attached to endpoint(s) {users}; delete them first.")
        del state.volumes[vol["id"]]
        folder = volume_folder(vol["id"])
        if folder.is_dir() and volumes_root() in folder.parents:
            shutil.rmtree(folder, ignore_errors=True)
        return web.Response(status=204)

    # -- registries -------------------------------------------------------------------------------
    async def list_registries(request):
        return ok({"registries": [{"id": r["id"], "name": r["name"]} for r in state.registries.values()]})

    async def create_registry(request):
        body = await _parse(request, _CreateRegistry)
        reg = {"id": _id(10), **body}
        state.registries[reg["id"]] = reg
        return ok({"id": reg["id"], "name": reg["name"]}, 201)

    async def get_registry(request):
        reg = state.registries.get(request.match_info["id"])
        if reg is None:
            raise Problem(404, f"Registry {request.match_info['id']!r} does not exist.")
        return ok({"id": reg["id"], "name": reg["name"]})

    async def delete_registry(request):
        if state.registries.pop(request.match_info["id"], None) is None:
            raise Problem(404, f"Registry {request.match_info['id']!r} does not exist.")
        return web.Response(status=204)

    # -- catalog ----------------------------------------------------------------------------------
    def gpu_types(availability: bool) -> list[dict]:
        out = []
        for pool in state.catalog.pools.values():
            for type_id in pool.gpu_types:
                usd_h = round(pool.usd_per_s * 3600, 4) if pool.usd_per_s is not None else None
                gpu = {"id": type_id, "name": type_id.replace("NVIDIA ", "").replace("GeForce ", ""),
                       "pool": pool.pool_id, "manufacturer": "NVIDIA", "memory": pool.vram_gb,
                       "secure": True, "community": False,
                       "price": {"secure": usd_h or 0.0, "community": 0.0, **({"serverless": usd_h} if usd_h else {})},
                       "maxCount": {"secure": 8, "community": 0}}
                if availability:
                    dcs = [{"id": dc["id"], "name": dc["name"], "availability": state.stock[(pool.pool_id, dc["id"])]}
                           for dc in DATA_CENTERS if state.stock.get((pool.pool_id, dc["id"]), "NONE") != "NONE"]
                    gpu["availability"] = "HIGH" if dcs else "NONE"
                    if dcs:
                        gpu["dataCenters"] = dcs
                    gpu["cudaVersions"] = [{"version": v, "available": True} for v in ("12.4", "12.8")]
                out.append(gpu)
        return out

    def wants(request, value: str) -> bool:
        return value in request.query.get("include", "").split(",")

    async def list_gpus(request):
        availability = wants(request, "AVAILABILITY")
        if availability and not request.query.get("product"):
            raise Problem(400, "include=AVAILABILITY requires product (e.g. product=SERVERLESS).")
        return ok({"gpus": gpu_types(availability)})

    async def get_gpu(request):
        gpu = next((g for g in gpu_types(wants(request, "AVAILABILITY")) if g["id"] == request.match_info["id"]), None)
        if gpu is None:
            raise Problem(404, f"GPU type {request.match_info['id']!r} does not exist.")
        return ok(gpu)

    def datacenter_view(dc: dict, gpu_availability: bool) -> dict:
        view = {**dc, "globalNetwork": False, "networkVolumeTypes": ["STANDARD"], "compliance": []}
        if gpu_availability:
            view["gpuAvailability"] = [{"id": t, "name": t, "availability": state.stock[(p.pool_id, dc["id"])]}
                                       for p in state.catalog.pools.values() for t in p.gpu_types]
        return view

    async def list_datacenters(request):
        return ok({"dataCenters": [datacenter_view(dc, wants(request, "GPU_AVAILABILITY")) for dc in DATA_CENTERS]})

    async def get_datacenter(request):
        dc = next((d for d in DATA_CENTERS if d["id"] == request.match_info["id"]), None)
        if dc is None:
            raise Problem(404, f"Data center {request.match_info['id']!r} does not exist.")
        return ok(datacenter_view(dc, wants(request, "GPU_AVAILABILITY")))

    r = app.router
    for path, handlers in {
        "/v2/serverless": {"GET": list_endpoints, "POST": create_endpoint},
        "/v2/serverless/{id}": {"GET": get_endpoint, "PATCH": update_endpoint, "DELETE": delete_endpoint},
        "/v2/serverless/{id}/workers": {"GET": endpoint_workers},
        "/v2/serverless/{id}/releases": {"GET": endpoint_releases},
        "/v2/templates": {"GET": list_templates, "POST": create_template},
        "/v2/templates/{id}": {"GET": get_template, "PATCH": update_template, "DELETE": delete_template},
        "/v2/network-volumes": {"GET": list_volumes, "POST": create_volume},
        "/v2/network-volumes/{id}": {"GET": get_volume, "PATCH": update_volume, "DELETE": delete_volume},
        "/v2/registries": {"GET": list_registries, "POST": create_registry},
        "/v2/registries/{id}": {"GET": get_registry, "DELETE": delete_registry},
        "/v2/catalog/gpus": {"GET": list_gpus},
        "/v2/catalog/gpus/{id}": {"GET": get_gpu},
        "/v2/catalog/datacenters": {"GET": list_datacenters},
        "/v2/catalog/datacenters/{id}": {"GET": get_datacenter},
    }.items():
        resource = r.add_resource(path)
        for method, handler in handlers.items():
            resource.add_route(method, handler)


CONTROL_PREFIXES = ("/v2/serverless", "/v2/templates", "/v2/network-volumes", "/v2/registries", "/v2/catalog",
                    "/v2/pods", "/v2/clusters", "/v2/billing", "/v2/account")


def _is_control_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in CONTROL_PREFIXES)


async def _call(fn, *args, **kwargs):
    """Platform methods may be plain or async; the ConfigError of a bad config becomes a 400 problem."""
    from playbook.errors import PlaybookError

    try:
        result = fn(*args, **kwargs)
        if hasattr(result, "__await__"):
            result = await result
        return result
    except PlaybookError as exc:
        raise Problem(400, str(exc)) from None


def _local_env(env: dict, volume_dir) -> dict:
    """What a local worker process sees: values under /runpod-volume point into the volume's folder
    (the REST view keeps the values as sent)."""
    if not volume_dir:
        return dict(env)
    return {k: str(volume_dir) + v[len(VOLUME_MOUNT):] if v == VOLUME_MOUNT or v.startswith(VOLUME_MOUNT + "/")
            else v for k, v in env.items()}


def _new_config(cls, **fields):
    from playbook.errors import PlaybookError

    try:
        return cls(**fields)
    except PlaybookError as exc:
        raise Problem(400, str(exc)) from None


def _list_workers(platform, endpoint_id: str) -> list:
    try:
        return list(platform.list_workers(endpoint_id) or [])
    except Exception:
        return []


def _get(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _release(version: int, diff: list[dict], created_mono: float | None = None, image: str | None = None) -> dict:
    """A release; keys starting with "_" are internal (when it was made, its image) and never sent."""
    return {"id": _id(8), "version": version, "source": "MANUAL", "buildId": None, "createdByUserId": None,
            "createdAt": _now(), "diff": diff, "_image": image,
            "_mono": time.monotonic() if created_mono is None else created_mono}


def _worker_view(worker, cfg, releases: list[dict], t0: float | None = None) -> dict:
    """A platform worker as the spec's Worker; its version is the newest release older than the worker."""
    state = str(_get(worker, "state", "idle")).upper()
    state = {"STOPPING": "IDLE"}.get(state, state)
    status = state if state in ("RUNNING", "IDLE", "INITIALIZING", "THROTTLED", "UNHEALTHY") else "UNHEALTHY"
    spawned_t = _get(worker, "spawned_t_s", None)
    spawned = None if spawned_t is None or t0 is None else t0 + spawned_t
    version = releases[0]["version"]
    release = next((r for r in releases if spawned is None or r["_mono"] <= spawned), releases[-1])
    worker_version = release["version"]
    uptime_s = None if spawned is None else max(0, int(time.monotonic() - spawned))
    return {"id": str(_get(worker, "id")), "status": status, "isStale": worker_version < version,
            "version": worker_version, "gpuCount": 0, "image": release.get("_image") or cfg.image,
            "uptimeSeconds": uptime_s, "gpuTypeId": None, "dataCenterId": "LOCAL",
            "startedAt": None if uptime_s is None else datetime.fromtimestamp(
                time.time() - uptime_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
