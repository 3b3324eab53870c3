"""The worker's start takes longer than RunPod's init timeout: it reads UNHEALTHY."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"exceeded the init timeout|init timeout", re.I)


def check(obs: Observation) -> list[str] | None:
    unhealthy = [w for w in obs.workers if w.get("status") == "UNHEALTHY"]
    hits = obs.find(PATTERN)
    if not unhealthy and (not hits or obs.job_status == "COMPLETED"):
        return None  # a worker once late that then served the job is not the cause of anything now
    out = [f"{w['id']} is UNHEALTHY after {w.get('uptimeSeconds')} s of start" for w in unhealthy]
    out += [obs.quote(line, text) for text, line in hits[-1:]]
    if obs.last_words() and not hits:
        out.append("its last log line: " + obs.quote(obs.last_words()))
    timeout = (obs.endpoint.get("env") or {}).get("RUNPOD_INIT_TIMEOUT")
    out.append(f"RUNPOD_INIT_TIMEOUT is {timeout + ' s (the endpoint env)' if timeout else 'unset: 420 s'}")
    return out


def remedy(obs: Observation) -> dict:
    return {"env": {**(obs.endpoint.get("env") or {}), "RUNPOD_INIT_TIMEOUT": "600"}}
