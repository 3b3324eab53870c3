"""workers.max is 0: no worker may start, every job waits IN_QUEUE (and the workers view is empty, which
reads like a healthy idle endpoint)."""

from __future__ import annotations

from playbook.doctor.observe import Observation

WHO_SETS_IT = ("by hand, by `playbook doctor --stop-crash-loop`, by RunPod's idle scale-down (max 2 after 3 days "
               "without requests, max 0 after 7; docs/runpod-facts.md §7), or by the account's worker cap")


def check(obs: Observation) -> list[str] | None:
    workers = obs.settings_workers
    if "max" not in workers or int(workers["max"] or 0) > 0:
        return None
    out = [f"endpoint {obs.endpoint_id} has workers.max 0 (min {workers.get('min', 0)}): no worker can start, "
           "so every job waits IN_QUEUE"]
    if obs.job_status == "IN_QUEUE":
        out.append(f"job {obs.job['id']} is IN_QUEUE and nothing will take it until workers.max is raised")
    out.append(f"workers.max 0 is set {WHO_SETS_IT}")
    crash = obs.exception()
    if crash:
        out.append("a worker's log also shows why it may have been stopped: " + obs.quote(crash[1], crash[0]))
    return out


def remedy(obs: Observation) -> dict:
    workers = obs.settings_workers
    return {"workers": {**workers, "max": max(1, int(workers.get("min") or 0))}}
