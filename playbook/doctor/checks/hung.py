"""A worker holds the job and makes no progress: the job runs past the hung threshold, its output has
not changed since the last poll and the worker's log is silent."""

from __future__ import annotations

from playbook.doctor.observe import Observation
from playbook.monitor.worker_logs import epoch_s


def silent_s(obs: Observation) -> float | None:
    """Seconds since the worker's last log line (None: it wrote nothing)."""
    return max(0.0, obs.now - epoch_s(obs.log[-1]["ts"])) if obs.log and obs.now else None


def check(obs: Observation) -> list[str] | None:
    if obs.job_status != "IN_PROGRESS":
        return None
    after = float(obs.limits.get("hung_after_s", 120.0))
    running_s = ((obs.job or {}).get("execution_ms") or 0) / 1000
    silent = silent_s(obs)
    if running_s < after or obs.memory.get("progressed") or (silent is not None and silent < after):
        return None
    return [f"running {running_s:.0f} s; the worker's log has been silent for "
            f"{'its whole life' if silent is None else f'{silent:.0f} s'} and the job reports no progress",
            f"the endpoint's execution timeout is {(obs.endpoint.get('timeout') or 0) / 1000:g} s"]
