"""The image cannot be pulled: the worker's system log carries the registry's (or Docker's) refusal."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"image pull|pull access denied|manifest unknown|ErrImagePull|failed to pull image|"
                     r"repository does not exist|manifest for \S+ not found|not found: manifest|"
                     r"no such host|unauthorized: authentication required", re.I)


def check(obs: Observation) -> list[str] | None:
    hits = obs.find(PATTERN)
    if not hits:
        return None
    out = [obs.quote(line, text) for text, line in hits[-2:]]
    registry = "with registry auth " + str(obs.endpoint["registry"]) if obs.endpoint.get("registry") else \
        "without registry auth"
    return out + [f"the endpoint's image is {obs.endpoint.get('image')} ({registry})"]
