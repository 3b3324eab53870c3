"""An endpoint's releases and the workers running them: ``/v2/serverless/{id}/workers`` and ``/releases``.

A change to a container field makes a new release (with the diff); a worker runs the newest release
older than itself, so workers started before a change show as stale until they are replaced."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from playbook.local.servers.control_api.common import add_routes_for, endpoint_of, ok, rest_fields, state_of

WORKER_STATUSES = ("RUNNING", "IDLE", "INITIALIZING", "THROTTLED", "UNHEALTHY")


def _flat(prefix: str, value: Any) -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}", v))
        return out or {prefix: {}}
    return {prefix: value}


def diff(old: dict, new: dict) -> list[dict]:
    """Field-by-field changes between two views (nested fields as dotted names)."""
    a, b = _flat("", old), _flat("", new)
    return [{"field": k[1:], "old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def _get(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def _list_workers(platform, endpoint_id: str) -> list:
    try:
        return list(platform.list_workers(endpoint_id) or [])
    except Exception:
        return []


def _status(worker) -> str:
    state = str(_get(worker, "state", "idle")).upper()
    state = {"STOPPING": "IDLE"}.get(state, state)
    return state if state in WORKER_STATUSES else "UNHEALTHY"


def worker_view(worker, cfg, releases: list[dict], t0: float | None = None) -> dict:
    """A platform worker as the spec's Worker; its version is the newest release older than the worker."""
    spawned_t = _get(worker, "spawned_t_s", None)
    spawned = None if spawned_t is None or t0 is None else t0 + spawned_t
    version = releases[0]["version"]
    release = next((r for r in releases if spawned is None or r["_mono"] <= spawned), releases[-1])
    worker_version = release["version"]
    uptime_s = None if spawned is None else max(0, int(time.monotonic() - spawned))
    return {"id": str(_get(worker, "id")), "status": _status(worker), "isStale": worker_version < version,
            "version": worker_version, "gpuCount": 0, "image": release.get("_image") or cfg.image,
            "uptimeSeconds": uptime_s, "gpuTypeId": None, "dataCenterId": "LOCAL",
            "startedAt": None if uptime_s is None else datetime.fromtimestamp(
                time.time() - uptime_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def _worker_views(request: web.Request, cfg, releases: list[dict]) -> list[dict]:
    platform = state_of(request).platform
    t0 = getattr(getattr(platform, "engine", None), "t0", None)
    return [worker_view(w, cfg, releases, t0) for w in _list_workers(platform, cfg.id)]


async def endpoint_workers(request):
    cfg = endpoint_of(request)
    version = rest_fields(cfg)["releases"][0]["version"]
    releases = rest_fields(cfg)["releases"]
    workers = _worker_views(request, cfg, releases)
    counts = {s: sum(w["status"] == s.upper() for w in workers)
              for s in ("running", "idle", "initializing", "throttled", "unhealthy")}
    return ok({"workers": workers, "summary": {**counts, "total": len(workers)}, "endpointVersion": version})


def _rollout(workers: list[dict]) -> dict:
    on_latest = sum(not w["isStale"] for w in workers)
    return {"inProgress": on_latest < len(workers), "workersOnLatest": on_latest, "workersTotal": len(workers),
            "percentOnLatest": 100 if not workers else int(100 * on_latest / len(workers))}


async def endpoint_releases(request):
    cfg = endpoint_of(request)
    releases = rest_fields(cfg)["releases"]
    workers = _worker_views(request, cfg, releases)
    out = [{**{k: v for k, v in r.items() if not k.startswith("_")},
            "workerCount": sum(w["version"] == r["version"] for w in workers)} for r in releases]
    return ok({"endpointVersion": releases[0]["version"], "releases": out, "rollout": _rollout(workers)})


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/serverless/{id}/workers": {"GET": endpoint_workers},
        "/v2/serverless/{id}/releases": {"GET": endpoint_releases},
    })
