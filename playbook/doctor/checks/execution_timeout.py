"""The job ran past the endpoint's execution timeout and was stopped (TIMED_OUT): a limit reached, not a
deadlock (that is "hung": a job that makes no progress while it runs)."""

from __future__ import annotations

from playbook.doctor.observe import Observation


def check(obs: Observation) -> list[str] | None:
    if obs.job_status != "TIMED_OUT":
        return None
    limit_ms = obs.endpoint.get("timeout")
    ran_ms = (obs.job or {}).get("execution_ms")
    out = [f"the endpoint's execution timeout is {limit_ms / 1000:g} s (REST `timeout`, ms: {limit_ms})"
           if limit_ms else "the endpoint reports no execution timeout",
           f"the job ran {ran_ms / 1000:.1f} s before it was stopped" if ran_ms is not None
           else "the job's execution time is not reported"]
    if obs.job_error:
        out.append(obs.quote(None))
    last = obs.last_words()
    if last:
        out.append("the worker's last line before the stop: " + obs.quote(last))
    return out


def remedy(obs: Observation) -> dict:
    """Twice what the job was allowed (or ran), in whole minutes: RunPod's own timeout field, in ms."""
    limit_ms = int(obs.endpoint.get("timeout") or 0)
    ran_ms = int((obs.job or {}).get("execution_ms") or 0)
    return {"timeout": max(60_000, -(-2 * max(limit_ms, ran_ms) // 60_000) * 60_000)}
