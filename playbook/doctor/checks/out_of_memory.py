"""The job ran out of GPU memory. A CPU cannot produce this: the local platform simulates it with its
fault switch, quoting PyTorch's message (see playbook.local.runtime.faults)."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"CUDA out of memory|OutOfMemoryError|Killed process .* out of memory", re.I)


def check(obs: Observation) -> list[str] | None:
    hits = obs.find(PATTERN)
    if not hits:
        return None
    pools = (obs.endpoint.get("gpu") or {}).get("pools") or []
    return [obs.quote(line, text) for text, line in hits[:1]] + [
        f"the endpoint's pools: {', '.join(pools) or 'none'} (a larger pool has more VRAM)"]
