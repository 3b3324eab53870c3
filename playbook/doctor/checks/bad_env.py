"""An environment variable the worker reads holds a value it refuses ("WORKER_DTYPE must be auto, fp16,
bf16 or fp32, not 'fp61'"), or one it needs is not set (KeyError: 'HF_TOKEN'): the worker dies at start."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

REFUSED = re.compile(r"\b([A-Z][A-Z0-9_]{2,})(?:=\S*)? must be (.+?),? not '([^']*)'")
MISSING = re.compile(r"KeyError: '([A-Z][A-Z0-9_]{2,})'")


def check(obs: Observation) -> list[str] | None:
    env = obs.endpoint.get("env") or {}
    for text, line in reversed(obs.texts()):
        m = REFUSED.search(text)
        if m:
            name, accepted, value = m.groups()
            on_endpoint = f"{name}={env[name]!r}" if name in env else f"{name} (not in the endpoint's env: " \
                                                                      "the image's default)"
            return [obs.quote(line, text[m.start():]),
                    f"the endpoint's env sets {on_endpoint}; the worker accepts: {accepted} (it got {value!r})"]
        m = MISSING.search(text)
        if m and m.group(1) not in env:
            return [obs.quote(line, text[m.start():]),
                    f"the worker reads env {m.group(1)}, which the endpoint's env does not set "
                    f"(it sets: {', '.join(sorted(env)) or 'nothing'})"]
    return None


def remedy(obs: Observation) -> dict | None:
    """The refused variable set to the first value the worker accepts."""
    env = obs.endpoint.get("env") or {}
    for text, _ in reversed(obs.texts()):
        m = REFUSED.search(text)
        if m:
            name, accepted, _value = m.groups()
            inner = re.search(r"\(([^)]*)\)", accepted)
            first = re.split(r"[,\s]+|\bor\b", (inner.group(1) if inner else accepted).strip())[0].strip(".")
            return {"env": {**env, name: first}} if first else None
    return None
