"""An endpoint's workers and their logs: ``GET /v2/serverless/{id}/workers`` and
``GET /v2/serverless/{id}/workers/{workerId}/logs`` (server-sent events), per RunPod's REST v2 spec.

Why: these two are all RunPod exposes for diagnosis (there is no metrics endpoint), so the doctor and
the monitoring notebook read nothing else. The status is the pod-level one, which can mislead exactly
as on RunPod (see ``runtime/faults.py``: a crash-looping worker reads RUNNING); the logs say why.

Logs stream as ``id: <ts>`` / ``data: {"ts", "source", "line"}`` events. Backfill follows the spec:
``Last-Event-ID`` (resume after that event, no duplicate) beats ``since`` (from that time), which beats
``tail`` (last N, default 100, at most 5000); ``source`` picks container or system lines. After the
backfill the stream sends an SSE comment (``: backfill complete``, which EventSource ignores) and then
follows new lines until the worker has exited (or the client goes away).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

from aiohttp import web

from playbook.core.excerpts import excerpt
from playbook.local.runtime import faults
from playbook.local.runtime.worker_logs import DEFAULT_TAIL, MAX_TAIL, SOURCES, LogBook, parse_ts, select
from playbook.local.servers.control_api.common import (
    Problem,
    add_routes_for,
    endpoint_of,
    ok,
    rest_fields,
    state_of,
)

LOGBOOK = web.AppKey("worker_logbook", LogBook)
FOLLOW_POLL_S = 0.25
SUMMARY_KEYS = ("running", "idle", "initializing", "throttled", "unhealthy")


LOCAL_GPU_TYPE = "CPU"  # what a placed local worker runs on (the worker protocol's ?gpu=CPU)

def _list_workers(platform, endpoint_id: str, include_exited: bool = False) -> list:
    try:
        return list(platform.list_workers(endpoint_id, include_exited=include_exited) or [])
    except Exception:
        return []


def _age_s(worker, t0: float | None) -> float | None:
    spawned_t = getattr(worker, "spawned_t_s", None)
    return None if spawned_t is None or t0 is None else time.monotonic() - (t0 + spawned_t)


def _placement(worker, cfg, stock=None) -> str | None:
    if getattr(worker, "runner", None) != "fault":
        return None
    try:
        return faults.placement_fault(cfg, stock)
    except Exception:
        return None


def worker_view(worker, cfg, releases: list[dict], t0: float | None = None, stock=None,
                current: int | None = None) -> dict:
    """A platform worker as the spec's Worker; its version is the release it was started on (``current``: the
    endpoint's release on the platform), else the newest release older than the worker. A throttled worker,
    or one still initializing, has no uptime yet (the spec: null until running)."""
    age_s = _age_s(worker, t0)
    spawned = None if age_s is None else time.monotonic() - age_s
    release = next((r for r in releases if spawned is None or r["_mono"] <= spawned), releases[-1])
    if current is not None and getattr(worker, "release", None) is not None:
        release = next((r for r in releases if r["version"] == worker.release), {"version": worker.release})
        current = max(current, releases[0]["version"])
    else:
        current = releases[0]["version"]
    placement = _placement(worker, cfg, stock)
    status = faults.reported_status(cfg, str(getattr(worker, "state", "idle")), age_s, placement)
    placed = placement is None
    uptime_s = None if age_s is None or not placed else max(0, int(age_s))
    return {"id": str(worker.id), "status": status, "isStale": release["version"] < current,
            "version": release["version"], "gpuCount": 0 if not placed else 1,
            "image": release.get("_image") or cfg.image, "uptimeSeconds": uptime_s,
            "gpuTypeId": LOCAL_GPU_TYPE if placed else None, "dataCenterId": "LOCAL" if placed else None,
            "startedAt": None if uptime_s is None else datetime.fromtimestamp(
                time.time() - uptime_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def worker_views(request: web.Request, cfg, releases: list[dict]) -> list[dict]:
    state = state_of(request)
    platform = state.platform
    t0 = getattr(getattr(platform, "engine", None), "t0", None)
    views = []
    current = _endpoint_release(platform, cfg.id)
    for worker in _list_workers(platform, cfg.id):
        view = worker_view(worker, cfg, releases, t0, state.stock, current)
        if view["status"] == "UNHEALTHY":  # say why in its system log, once
            placement = _placement(worker, cfg, state.stock)
            reason = faults.unhealthy_reason(cfg, worker.state, _age_s(worker, t0), placement)
            logbook(request).refresh(worker.id, worker.log_path, unhealthy_reason=reason)
        views.append(view)
    return views


def _endpoint_release(platform, endpoint_id: str) -> int | None:
    try:
        return platform.endpoint_release(endpoint_id)
    except Exception:
        return None


async def endpoint_workers(request):
    cfg = endpoint_of(request)
    releases = rest_fields(cfg)["releases"]
    workers = worker_views(request, cfg, releases)
    counts = {s: sum(w["status"] == s.upper() for w in workers) for s in SUMMARY_KEYS}
    return ok({"workers": workers, "summary": {**counts, "total": len(workers)},
               "endpointVersion": max(releases[0]["version"],
                                      _endpoint_release(state_of(request).platform, cfg.id) or 1)})


# -- logs ---------------------------------------------------------------------------------------------

def logbook(request: web.Request) -> LogBook:
    return request.app[LOGBOOK]


def _query(request: web.Request) -> tuple[str | None, int, int | None, int | None]:
    q = request.query
    source = q.get("source") or None
    if source is not None and source not in SOURCES:
        raise Problem(400, f"source must be one of {list(SOURCES)} (or omitted for both), not {excerpt(source, 40)}.")
    try:
        tail = int(q.get("tail", DEFAULT_TAIL))
    except ValueError:
        raise Problem(400, f"tail must be an integer from 0 to {MAX_TAIL}.") from None
    if not 0 <= tail <= MAX_TAIL:
        raise Problem(400, f"tail must be from 0 to {MAX_TAIL}, not {tail}.")
    cursors = []
    for name, value in (("Last-Event-ID", request.headers.get("Last-Event-ID")), ("since", q.get("since"))):
        try:
            cursors.append(parse_ts(value) if value else None)
        except ValueError:
            raise Problem(400, f"{name} must be an RFC 3339 time such as 2026-06-01T12:05:04Z, "
                               f"not {excerpt(value, 60)}.") from None
    return source, tail, cursors[1], cursors[0]


def _find_worker(request: web.Request, cfg):
    wid = request.match_info["workerId"]
    platform = state_of(request).platform
    found = next((w for w in _list_workers(platform, cfg.id, include_exited=True) if w.id == wid), None)
    if found is None:
        raise Problem(404, f"Worker {excerpt(wid, 40)} of endpoint {excerpt(cfg.id)} does not exist (or its logs have "
                           "expired); list the workers with GET /v2/serverless/{id}/workers.")
    return found


def _refresh(request: web.Request, cfg, worker_id: str):
    """The worker's events so far (re-reading its record: it may have exited meanwhile)."""
    platform = state_of(request).platform
    worker = next((w for w in _list_workers(platform, cfg.id, include_exited=True) if w.id == worker_id), None)
    if worker is None:
        return [], True
    exited = worker.exited_t_s is not None
    return logbook(request).refresh(worker.id, worker.log_path, worker.exit_code, exited,
                                    worker.stop_reason, marks=_platform_marks(platform, worker)), exited


def _platform_marks(platform, worker) -> dict[str, float]:
    """The platform's timing marks of a worker (epoch s): when it was spawned and first took a job."""
    t0 = getattr(getattr(platform, "engine", None), "t0", None)
    if t0 is None or worker.spawned_t_s is None:
        return {}
    wall_minus_mono = time.time() - time.monotonic()
    spawned = t0 + worker.spawned_t_s + wall_minus_mono
    marks = {"spawned": spawned}
    if worker.cold_start_s is not None:
        marks["first_take"] = spawned + worker.cold_start_s
    return marks


def _sse(event) -> bytes:
    return f"id: {event.id}\ndata: {json.dumps(event.data())}\n\n".encode()


async def worker_logs(request):
    cfg = endpoint_of(request)
    source, tail, since_us, after_us = _query(request)
    worker = _find_worker(request, cfg)
    events, exited = _refresh(request, cfg, worker.id)
    backfill = select(events, source, tail, since_us, after_us)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "Connection": "keep-alive", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    for event in backfill:
        await response.write(_sse(event))
    await response.write(b": backfill complete\n\n")
    last_us = events[-1].ts_us if events else 0
    try:
        while not exited:
            await asyncio.sleep(FOLLOW_POLL_S)
            events, exited = _refresh(request, cfg, worker.id)
            for event in select(events, source, after_us=last_us):
                await response.write(_sse(event))
            last_us = events[-1].ts_us if events else last_us
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away
    return response


def add_routes(app: web.Application) -> None:
    app[LOGBOOK] = LogBook()
    add_routes_for(app, {
        "/v2/serverless/{id}/workers": {"GET": endpoint_workers},
        "/v2/serverless/{id}/workers/{workerId}/logs": {"GET": worker_logs},
    })
