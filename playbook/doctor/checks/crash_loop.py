"""Workers start and die before taking a job (their status may still read RUNNING): the decisive line is
the exception that ended the worker, with where it was raised."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

CRASH = re.compile(r"Traceback \(most recent call last\)|Worker is unhealthy, exiting|exited with code [1-9]|"
                   r"Fatal Python error", re.I)
WHERE = re.compile(r'^\s*File "([^"]+)", line (\d+)')
EXIT = re.compile(r"exited with code ([1-9]\d*)")
# Python quotes each variable of its path configuration it used ("  PYTHONHOME = '/opt/conda'") when it cannot start
CONFIG_VAR = re.compile(r"^\s*(PYTHON[A-Z]*) = '")


def check(obs: Observation) -> list[str] | None:
    crash = obs.find(CRASH)
    failed_starts = "before taking a job" in obs.job_error
    turnover = obs.memory.get("turnover")
    if not (crash or failed_starts or turnover):
        return None
    out = []
    exc = obs.exception()
    if exc:
        out.append(obs.quote(exc[1], exc[0]))
        where = _where(obs, exc[1])
        if where:
            out.append(f"raised at {where}")
    fatal = [(t, x) for t, x in crash if "Fatal Python error" in t]
    out += [obs.quote(x, t) for t, x in fatal[-1:]]
    exits = [(t, x) for t, x in obs.find(EXIT)]
    out += [obs.quote(x, t) for t, x in exits[-1:]]
    if failed_starts and not exits:
        out.append(obs.quote(None))
    if turnover:
        out.append(f"worker ids changed between polls ({obs.memory.get('seen', 0)} seen): workers start and die")
    out += [f"the endpoint's env sets {name}={value!r}, which the crash output names" for name, value in
            _named_env(obs).items()]
    running = [w["id"] for w in obs.workers if w.get("status") == "RUNNING"]
    if running:
        out.append(f"status reads RUNNING for {', '.join(running)} although no job runs: the logs decide")
    return out or [obs.quote(crash[-1][1], crash[-1][0])]


def _where(obs: Observation, exc_line: dict | None) -> str | None:
    """The last 'File "...", line N' before the exception: where it was raised."""
    if exc_line is None or exc_line not in obs.log:
        return None
    before = obs.log[:obs.log.index(exc_line)]
    for x in reversed(before):
        m = WHERE.match(x["line"])
        if m:
            return obs.as_worker_sees(f"{m.group(1)}, line {m.group(2)}")
    return None


def _named_env(obs: Observation) -> dict:
    """The endpoint's env vars that Python's crash output quotes as its configuration (PYTHONHOME, ...)."""
    env = obs.endpoint.get("env") or {}
    named = {m.group(1) for text, _ in obs.texts() for part in text.splitlines() if (m := CONFIG_VAR.match(part))}
    return {k: v for k, v in env.items() if k in named}


def remedy(obs: Observation) -> dict | None:
    """A new release without the env vars the crash names (a PYTHONHOME meant for another image), if any;
    a crash in the handler's own code needs a new image, which no PATCH of the endpoint makes."""
    bad = _named_env(obs)
    if not bad:
        return None
    return {"env": {k: v for k, v in (obs.endpoint.get("env") or {}).items() if k not in bad}}
