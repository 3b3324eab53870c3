"""The doctor's rules: one module per verdict, each a ``check(observation)`` that returns the evidence
naming the cause (a list of lines) or None; which rule wins when several fire is declared here, as data.

Why a registry (the shape of Cog's ``doctor``): a rule is read, tested and changed alone, on an
``Observation`` recorded from a real run (tests/data/doctor/), and the order is one visible tuple
instead of the order of if-statements in a long function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from playbook.doctor.observe import Observation

# the first rule that finds evidence decides: settings that stop every worker, then what a worker's log says
# (most specific first: the image, the host, the env, the model, memory), then the job's own fate, then
# placement, then what the settings or the release are; "healthy" when none fires
PRECEDENCE: tuple[str, ...] = (
    "no_workers", "image_pull", "wrong_architecture", "cuda_mismatch", "bad_env", "models_missing",
    "out_of_memory", "execution_timeout", "hung", "bad_input", "init_timeout", "capacity", "crash_loop",
    "stale_release", "sdk_bug", "runaway_cost", "healthy_but_slow",
)
# causes read from a worker's log: remembered between polls, since that worker may be gone at the next
FROM_LOGS = frozenset({"crash_loop", "image_pull", "cuda_mismatch", "models_missing", "out_of_memory",
                       "wrong_architecture", "bad_env"})

Check = Callable[[Observation], "list[str] | None"]


def registry() -> list[tuple[str, Check]]:
    """(verdict, check) in precedence order."""
    return [(name, importlib.import_module(f"{__name__}.{name}").check) for name in PRECEDENCE]


def decide(obs: Observation) -> tuple[str, list[str]]:
    """The verdict and its evidence (the job and workers view first, then the rule's lines)."""
    for name, check in registry():
        found = check(obs)
        if found:
            return _or_earlier(obs, name, obs.head() + found)
    return _or_earlier(obs, "healthy", obs.head())


def _or_earlier(obs: Observation, verdict: str, evidence: list[str]) -> tuple[str, list[str]]:
    """When this poll finds nothing while the job still waits, the cause an earlier poll read in a log
    (that worker may be gone, and its successor has not failed yet)."""
    earlier = obs.memory.get("earlier")
    if verdict in ("healthy", "healthy_but_slow") and earlier and obs.job_status == "IN_QUEUE":
        return earlier["verdict"], evidence + [f"an earlier poll: {e}" for e in earlier["evidence"][-2:]]
    return verdict, evidence


def remedy(verdict: str, obs: Observation) -> dict | None:
    """The doctor's fix as a change to the endpoint (a PATCH body), when the rule knows one."""
    if verdict == "healthy":
        return None
    fn = getattr(importlib.import_module(f"{__name__}.{verdict}"), "remedy", None)
    return fn(obs) if fn else None
