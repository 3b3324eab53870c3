"""Guards against the runaway bill: the zero-idle check of a spec (each finding with what it costs per month)
and the spend cap (``max_spend_per_hour``) that ``plan`` and ``apply`` refuse to exceed.

Why in ``plan``: every one of these settings is cheap to fix before a deploy and expensive to discover on the
invoice. The costs are stated with their assumption (``bursts_per_day``: how often traffic wakes a cold
endpoint) so a reader can redo the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.api.gpus import Catalog, default_catalog
from playbook.api.pricing import SECONDS_PER_MONTH, STORAGE, StoragePrices
from playbook.core.errors import ConfigError
from playbook.core.html import table

LONG_IDLE_TIMEOUT_S = 30
NO_TIMEOUT_S = 3600  # an execution timeout above an hour is as good as none for an image endpoint
TYPICAL_COLD_START_S = 15.0  # a diffusers worker loading from a network volume
FLASHBOOT_COLD_START_S = 3.0


@dataclass(frozen=True)
class Finding:
    field: str
    message: str
    usd_per_month: float

    def line(self) -> str:
        return f"{self.field}: {self.message} (~${self.usd_per_month:,.2f}/month)"


@dataclass(frozen=True)
class Findings:
    items: tuple[Finding, ...]

    @property
    def usd_per_month(self) -> float:
        return sum(f.usd_per_month for f in self.items)

    def lines(self) -> list[str]:
        return [f.line() for f in self.items]

    def _repr_html_(self) -> str:
        return table([(f.field, f.message, f.usd_per_month) for f in self.items],
                     header=["field", "finding", "usd_per_month"],
                     caption=f"zero-idle check: ~${self.usd_per_month:,.2f}/month at stake")


def worker_usd_per_s(spec, catalog: Catalog | None = None, worst: bool = True) -> float:
    """A worker's price: the most (``worst``) or least expensive of the spec's pools with a known price,
    times GPUs per worker."""
    catalog = catalog or default_catalog()
    prices = []
    for name in spec.gpus:
        pool_id, _ = catalog.pool_of(name)
        usd = catalog.pools[pool_id].usd_per_s if pool_id in catalog.pools else None
        if usd is not None:
            prices.append(usd)
    if not prices:
        raise ConfigError(f"gpus {spec.gpus}: no pool has a known price; set usd_per_s in a catalog override "
                          "(PLAYBOOK_GPU_CATALOG) so cost checks can run.")
    return (max(prices) if worst else min(prices)) * spec.gpu_count


def zero_idle_check(spec, catalog: Catalog | None = None, bursts_per_day: float = 50,
                    storage: StoragePrices = STORAGE) -> Findings:
    """What in ``spec`` costs money while no job runs, per month. ``bursts_per_day``: how often traffic
    wakes the endpoint from zero (each wake pays a cold start and one idle timeout)."""
    usd_s = worker_usd_per_s(spec, catalog, worst=False)
    days = SECONDS_PER_MONTH / 86_400
    out = []
    if spec.workers.min > 0:
        out.append(Finding("workers.min", f"{spec.workers.min} worker(s) run around the clock, jobs or not; "
                           "set workers.min = 0 unless the break-even rate says otherwise",
                           spec.workers.min * usd_s * SECONDS_PER_MONTH))
    if spec.workers.idle_timeout_s > LONG_IDLE_TIMEOUT_S:
        extra = spec.workers.idle_timeout_s - 5
        out.append(Finding("workers.idle_timeout_s", f"{spec.workers.idle_timeout_s} s of idle billed after "
                           f"every burst ({bursts_per_day:g} bursts/day assumed); 5 s is RunPod's documented default",
                           extra * usd_s * bursts_per_day * days))
    if spec.execution_timeout_s > NO_TIMEOUT_S:
        out.append(Finding("execution_timeout_s", f"{spec.execution_timeout_s} s: a hung job bills that long "
                           "before it is stopped (one hang per worker a month assumed, against a 600 s "
                           "timeout); set a few times the longest expected job",
                           (spec.execution_timeout_s - 600) * usd_s * spec.workers.max))
    if spec.flashboot == "OFF":
        saved = TYPICAL_COLD_START_S - FLASHBOOT_COLD_START_S
        out.append(Finding("flashboot", f"OFF: every cold start bills ~{TYPICAL_COLD_START_S:g} s of start-up "
                           f"(FlashBoot typically ~{FLASHBOOT_COLD_START_S:g} s); RunPod's v2 default is OFF",
                           saved * usd_s * bursts_per_day * days))
    if spec.volume is not None:
        out.append(Finding("volume.size_gb", f"a {spec.volume.size_gb} GB network volume bills every month, "
                           "used or not (delete it with `playbook destroy --volume` when done)",
                           storage.volume_usd_per_month(spec.volume.size_gb)))
    return Findings(tuple(out))


def max_spend_per_hour(spec, catalog: Catalog | None = None) -> float:
    """The most the endpoint can bill in an hour: workers.max on the most expensive of its pools."""
    return spec.workers.max * worker_usd_per_s(spec, catalog, worst=True) * 3600


def check_spend_cap(spec, catalog: Catalog | None = None) -> None:
    """Refuse a spec whose workers.max x price can pass its ``max_spend_per_hour``."""
    cap = getattr(spec, "max_spend_per_hour", None)
    if cap is None:
        return
    worst = max_spend_per_hour(spec, catalog)
    if worst > cap:
        per_worker = worst / max(spec.workers.max, 1)
        fits = int(cap // per_worker) if per_worker else spec.workers.max
        raise ConfigError(f"max_spend_per_hour: workers.max = {spec.workers.max} on {spec.gpus} can bill "
                          f"${worst:.2f}/h, above the cap ${cap:.2f}/h. Lower workers.max to {fits}, choose "
                          "cheaper pools, or raise max_spend_per_hour.")


def plan_notes(spec, catalog: Catalog | None = None) -> list[str]:
    """What ``plan`` shows: the spend cap check (raises) and the zero-idle findings."""
    check_spend_cap(spec, catalog)
    findings = zero_idle_check(spec, catalog)
    return [f"zero-idle check: {line}" for line in findings.lines()]
