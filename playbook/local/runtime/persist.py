"""What a strict local platform keeps across restarts, in one JSON file of the state folder.

Why: RunPod's endpoints, templates, network volumes, bills and API key outlive any one process, and a job it
accepted is kept: a queued job still runs, a finished one answers ``/status`` for its retention (30 minutes
after /run, 1 minute after /runsync; docs/runpod-facts.md §1). Held only in memory, a restart forgot all of
it (every job id answered 404, the key changed) while the volumes' folders stayed on disk.

What is kept: the API key; every endpoint's config (with its REST fields and releases), release counter and
last request; the control API's volumes, volume bills, templates and registries; the billing ledger; the
jobs, with their times as calendar epoch seconds; the calendar clock's offset. A job that was IN_PROGRESS
when the platform stopped goes back to the queue (its worker died with the platform), as RunPod retries a
job whose worker is lost. The file is written atomically with mode 0600 (it holds the key) on every
scaler save tick and at stop.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, fields
from pathlib import Path

from playbook.local.runtime.billing import BilledWorker
from playbook.local.runtime.endpoints import EndpointConfig
from playbook.local.runtime.state import IN_PROGRESS, IN_QUEUE, RUN_RETENTION_S, RUNSYNC_RETENTION_S, Job

VERSION = 1
STATE_FILE = "local-platform-data.json"
JOB_FIELDS = ("id", "endpoint_id", "input", "sync", "webhook", "execution_timeout_ms", "s3_config", "low_priority",
              "status", "output", "error", "worker_id", "retries")
CONTROL_FIELDS = ("volumes", "volume_bills", "templates", "registries")


def load(path: Path) -> dict | None:
    """The saved state, or None when there is none (a first start)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        from playbook.core.errors import PlatformError

        raise PlatformError(f"the local platform's saved state {path} cannot be read ({exc}); move it away to "
                            "start empty.") from None
    return data if data.get("version") == VERSION else None


def save(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def snapshot(platform) -> dict:
    """Everything listed in the module's docstring, JSON-able; run on the platform's loop."""
    engine = platform.engine
    endpoints = [{"config": ep.cfg.to_dict(), "release": ep.release, "last_request_s": ep.last_request_s,
                  "jobs": [_job(engine, j) for j in ep.jobs.values()]} for ep in engine.endpoints.values()]
    control = platform.control_state
    return {"version": VERSION, "saved_s": time.time(), "api_key": platform.api_key,
            "clock_offset_s": platform.clock.offset_s,
            "endpoints": endpoints, "ledger": [asdict(e) for e in engine.ledger.entries.values()],
            "control": {k: getattr(control, k) for k in CONTROL_FIELDS} if control is not None else {}}


def _job(engine, job: Job) -> dict:
    out = {k: getattr(job, k) for k in JOB_FIELDS}
    for name in ("created", "started", "finished"):
        value = getattr(job, name)
        out[name] = None if value is None else engine.wall(value)
    return out


def restore(platform, data: dict) -> int:
    """Put a saved state back into a platform that has just started (on its loop); returns the jobs requeued."""
    from playbook.local.runtime.state import EndpointState

    engine = platform.engine
    for entry in data.get("ledger", []):
        billed = BilledWorker(**entry)
        if billed.stop_s is None:  # the platform died under it: billed until the state was last saved
            billed.stop_s = max(billed.start_s, data.get("saved_s") or billed.start_s)
        engine.ledger.entries[billed.worker_id] = billed
    control = platform.control_state
    for key, value in (data.get("control") or {}).items():
        if control is not None and key in CONTROL_FIELDS:
            getattr(control, key).update(value)
    requeued = 0
    for saved in data.get("endpoints", []):
        known = {f.name for f in fields(EndpointConfig)}
        cfg = EndpointConfig(**{k: v for k, v in saved["config"].items() if k in known})
        ep = engine.endpoints[cfg.id] = EndpointState(cfg)
        ep.release = saved.get("release", 1)
        ep.last_request_s = saved.get("last_request_s")
        for job_data in saved.get("jobs", []):
            requeued += _restore_job(engine, ep, job_data)
    return requeued


def _restore_job(engine, ep, data: dict) -> int:
    import asyncio

    job = Job(**{k: data[k] for k in JOB_FIELDS if k in data})
    mono = {name: None if data.get(name) is None else engine.t0 + (data[name] - engine.wall0)
            for name in ("created", "started", "finished")}
    job.created, job.started, job.finished = mono["created"], mono["started"], mono["finished"]
    job.done = asyncio.Event()
    if job.terminal:
        keep_s = RUNSYNC_RETENTION_S if job.sync else RUN_RETENTION_S
        if time.monotonic() - job.finished > keep_s:
            return 0  # past RunPod's retention while the platform was down
        job.done.set()
        ep.jobs[job.id] = job
        return 0
    if job.status == IN_PROGRESS:
        job.retries += 1  # its worker is gone: retried, as after a worker died
    job.status, job.started, job.worker_id = IN_QUEUE, None, None
    ep.jobs[job.id] = job
    ep.queue.append(job.id)
    return 1
