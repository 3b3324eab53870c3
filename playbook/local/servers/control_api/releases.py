"""An endpoint's releases: ``/v2/serverless/{id}/releases`` (the workers view is in ``workers``).

A change to a container field makes a new release (with the diff); a worker runs the newest release
older than itself, so workers started before a change show as stale until they are replaced."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from playbook.local.servers.control_api.common import add_routes_for, endpoint_of, ok, rest_fields
from playbook.local.servers.control_api.workers import worker_views


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


def _rollout(workers: list[dict]) -> dict:
    on_latest = sum(not w["isStale"] for w in workers)
    return {"inProgress": on_latest < len(workers), "workersOnLatest": on_latest, "workersTotal": len(workers),
            "percentOnLatest": 100 if not workers else int(100 * on_latest / len(workers))}


async def endpoint_releases(request):
    cfg = endpoint_of(request)
    releases = rest_fields(cfg)["releases"]
    workers = worker_views(request, cfg, releases)
    out = [{**{k: v for k, v in r.items() if not k.startswith("_")},
            "workerCount": sum(w["version"] == r["version"] for w in workers)} for r in releases]
    return ok({"endpointVersion": releases[0]["version"], "releases": out, "rollout": _rollout(workers)})


def add_routes(app: web.Application) -> None:
    add_routes_for(app, {
        "/v2/serverless/{id}/releases": {"GET": endpoint_releases},
    })
