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


def remedy(obs: Observation) -> dict | None:
    """The cheapest pool with more VRAM than the endpoint's largest (RunPod's VRAM and prices)."""
    from playbook.api.gpus import default_catalog

    catalog, gpu = default_catalog(), obs.endpoint.get("gpu") or {}
    have = max((catalog[p].vram_gb for p in gpu.get("pools") or [] if p in catalog.pools), default=0)
    bigger = catalog.fitting(have + 1, headroom=0.0)
    return {"gpu": {"pools": [bigger[0].pool_id]}} if bigger else None
