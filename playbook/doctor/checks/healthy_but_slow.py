"""The endpoint works, only slowly: the job waited long for a worker, is still running and making
progress, or waits for a worker to start."""

from __future__ import annotations

from playbook.doctor.checks.hung import silent_s
from playbook.doctor.observe import Observation


def check(obs: Observation) -> list[str] | None:
    job, slow_s = obs.job or {}, float(obs.limits.get("slow_delay_s", 30.0))
    if obs.job_status == "COMPLETED" and (job.get("delay_ms") or 0) > slow_s * 1000:
        return [f"it waited {job['delay_ms'] / 1000:.1f} s before a worker took it (over {slow_s:g} s)"]
    if obs.job_status == "IN_PROGRESS":
        silent = silent_s(obs)
        moved = ", progress changed since the last poll" if obs.memory.get("progressed") else ""
        return [f"running {(job.get('execution_ms') or 0) / 1000:.1f} s, still making progress (last log line "
                f"{silent or 0:.1f} s ago{moved})"]
    if obs.job_status == "IN_QUEUE" and not obs.workers:
        return ["the job waits for a worker to start"]
    return None
