"""No GPU capacity: the endpoint's workers wait THROTTLED (or none is placed) because none of its pools
has stock in its data centers. The evidence lists every pool with its stock, and names as the cause only
the (pool, data center) pairs without stock."""

from __future__ import annotations

from playbook.doctor.observe import Observation


def stock_lines(obs: Observation) -> tuple[list[str], list[str], int]:
    """(each pool with its stock per data center, the pairs that have none, how many pairs in all)."""
    dcs = obs.endpoint.get("dataCenterIds") or []
    shown, empty, total = [], [], 0
    for pool in (obs.endpoint.get("gpu") or {}).get("pools") or []:
        levels = obs.stock.get(pool) or {}
        where = dcs or sorted(levels) or ["any data center"]
        pairs = [(dc, levels.get(dc) or "NONE") for dc in where]
        shown.append(f"{pool}: " + ", ".join(f"{dc} {level}" for dc, level in pairs))
        empty += [f"{pool} in {dc}" for dc, level in pairs if level == "NONE"]
        total += len(pairs)
    return shown, empty, total


def check(obs: Observation) -> list[str] | None:
    throttled = bool(obs.workers) and all(w.get("status") == "THROTTLED" for w in obs.workers)
    waiting = obs.job_status == "IN_QUEUE" and not obs.workers
    if not (throttled or waiting):
        return None
    shown, empty, total = stock_lines(obs)
    if not throttled and (not total or len(empty) < total):
        return None  # nothing placed yet, but stock exists somewhere: a cold start, not capacity
    dcs = obs.endpoint.get("dataCenterIds") or []
    where = "its data centers " + ", ".join(dcs) if dcs else "every data center"
    out = [f"catalog stock of the endpoint's pools in {where} (GET /v2/catalog/gpus?include=AVAILABILITY): "
           + "; ".join(shown)]
    if empty:
        out.append("no stock: " + ", ".join(empty))
    else:
        out.append("the catalog shows stock, yet the workers wait THROTTLED: the stock went since the catalog was "
                   "read, or it is taken")
    if throttled and obs.last_words():
        out.append(obs.quote(obs.last_words()))
    return out


def remedy(obs: Observation) -> dict | None:
    """Add a pool with stock in every data center of the endpoint: the cheapest with at least the VRAM of
    its largest pool, else (none has stock) the one with the most VRAM (the catalog's stock, RunPod's prices
    and VRAM from ``playbook.api.gpus``)."""
    from playbook.api.gpus import default_catalog

    catalog, gpu = default_catalog(), obs.endpoint.get("gpu") or {}
    pools, dcs = list(gpu.get("pools") or []), obs.endpoint.get("dataCenterIds") or []
    need = max((catalog[p].vram_gb for p in pools if p in catalog.pools), default=0)

    def stocked(pool: str) -> bool:
        levels = obs.stock.get(pool) or {}
        wanted = dcs or list(levels)
        return bool(wanted) and all(levels.get(dc, "NONE") != "NONE" for dc in wanted)

    with_stock = [p for p in catalog.fitting(0, headroom=0.0) if p.pool_id not in pools and stocked(p.pool_id)]
    fits = [p for p in with_stock if p.vram_gb >= need] or sorted(with_stock, key=lambda p: -p.vram_gb)
    return {"gpu": {"pools": pools + [fits[0].pool_id]}} if fits else None
