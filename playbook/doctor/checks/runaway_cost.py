"""Settings that bill far more than the traffic needs (min workers, a long idle timeout, a max beyond the
spend limit)."""

from __future__ import annotations

from playbook.doctor import rules
from playbook.doctor.observe import Observation


def settings(ep: dict) -> rules.Settings:
    w, gpu = ep.get("workers") or {}, ep.get("gpu") or {}
    return rules.Settings(int(w.get("min") or 0), int(w.get("max") or 0), float(w.get("idleTimeout") or 5),
                          tuple(gpu.get("pools") or ()), int(gpu.get("count") or 1))


def check(obs: Observation) -> list[str] | None:
    return rules.cost_findings(settings(obs.endpoint)) or None


def remedy(obs: Observation) -> dict:
    """Workers min 0 and RunPod's default idle timeout (5 s) when longer; max kept (the spend limit's line says
    when it is too high). Workers settings make no new release: running workers stay."""
    w = obs.settings_workers
    return {"workers": {**w, "min": 0, "idleTimeout": min(int(w.get("idleTimeout") or 5), 5)}}
