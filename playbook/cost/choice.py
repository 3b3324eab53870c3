"""Which platform: serverless flex workers (scale to zero), or something always on (an active worker, a pod).

Why: scale-to-zero is not free. Each burst of traffic pays a cold start and an idle timeout on top of the work,
at the flex price; an always-on worker pays every second of the day, at a lower price, and never starts cold.
Which one costs less depends on how busy the endpoint is; this module says where the line falls, per pool,
from the catalog's flex prices (``playbook.api.gpus``) and RunPod's documented active-worker prices.

The arithmetic, for one worker's worth of traffic (a day of ``86_400`` s):

* flex, jobs back to back (always warm): billed = busy seconds, at the flex price. Break-even at a
  utilisation of ``always_on / flex`` (the active discount: about 70%).
* flex, every job alone (each wakes a cold worker): billed = jobs x (cold start + job + idle timeout). Break-even
  at ``always_on / flex x job / (cold start + job + idle timeout)``: far lower when the overhead dwarfs the job.

Real traffic lies between the two; ``playbook.cost.simulate`` replays a trace (notebook 07). A pod is priced per
hour on RunPod's pricing page (not in this table): pass its price as ``always_on_usd_per_h``.
"""

from __future__ import annotations

from dataclasses import dataclass

from playbook.api.gpus import Catalog, default_catalog
from playbook.api.pricing import SECONDS_PER_DAY
from playbook.core.errors import ConfigError
from playbook.core.html import table

# Active (always-on) serverless workers, per GPU-second, beside the flex price (docs: serverless/pricing at
# runpod/docs da63d28, "Active workers receive a 20-30% discount"; docs/runpod-facts.md §4). Dated like the flex
# prices: RunPod now points to runpod.io/pricing.
ACTIVE_USD_PER_S = {
    "AMPERE_16": 0.00011, "AMPERE_24": 0.00013, "ADA_24": 0.00021, "AMPERE_48": 0.00024, "ADA_48_PRO": 0.00037,
    "AMPERE_80": 0.00060, "ADA_80_PRO": 0.00093, "HOPPER_141": 0.00124,
}
ACTIVE_SOURCE = "RunPod docs, serverless/pricing (runpod/docs da63d28): active workers, 20-30% below flex"


@dataclass(frozen=True)
class BreakEven:
    """Where scale-to-zero stops paying on one pool, for jobs of ``job_s`` and an overhead per cold burst."""

    pool: str
    flex_usd_per_s: float
    always_on_usd_per_s: float
    job_s: float
    cold_start_s: float
    idle_timeout_s: float

    @property
    def always_on_usd_per_day(self) -> float:
        return self.always_on_usd_per_s * SECONDS_PER_DAY

    @property
    def warm_utilisation(self) -> float:
        """The busy share of the day above which always-on wins even when flex never starts cold."""
        return self.always_on_usd_per_s / self.flex_usd_per_s

    @property
    def burst_s(self) -> float:
        """What flex bills for one job that wakes a cold worker: start-up, the job, the idle timeout."""
        return self.cold_start_s + self.job_s + self.idle_timeout_s

    @property
    def cold_utilisation(self) -> float:
        """The busy share above which always-on wins when every job wakes a cold worker."""
        return self.warm_utilisation * self.job_s / self.burst_s

    @property
    def cold_jobs_per_day(self) -> float:
        """As many lone jobs a day cost as much on flex as one always-on worker."""
        return self.always_on_usd_per_day / (self.flex_usd_per_s * self.burst_s)

    def sentence(self) -> str:
        return (f"On {self.pool}, one worker kept on costs ${self.always_on_usd_per_day:.2f}/day. Scale-to-zero "
                f"costs less until the endpoint is busy {self.warm_utilisation:.0%} of the day when jobs come "
                f"back to back, but only {self.cold_utilisation:.1%} when each {self.job_s:g} s job wakes a cold "
                f"worker (about {self.cold_jobs_per_day:,.0f} such jobs a day).")


def break_even(pool: str, job_s: float, cold_start_s: float, idle_timeout_s: float,
               always_on_usd_per_h: float | None = None, catalog: Catalog | None = None) -> BreakEven:
    """Break-even on ``pool`` against an active worker on it (RunPod's documented price), or against any
    always-on machine priced ``always_on_usd_per_h`` (a pod, another provider's instance)."""
    catalog = catalog or default_catalog()
    if pool not in catalog.pools or catalog.pools[pool].usd_per_s is None:
        priced = [p for p, g in catalog.pools.items() if g.usd_per_s is not None]
        raise ConfigError(f"pool {pool[:40]!r} has no flex price in the catalog; priced pools: {priced}")
    if always_on_usd_per_h is None and pool not in ACTIVE_USD_PER_S:
        raise ConfigError(f"pool {pool} has no documented active-worker price: pass always_on_usd_per_h "
                          "(e.g. a pod's hourly price from runpod.io/pricing)")
    if min(job_s, cold_start_s, idle_timeout_s) < 0 or job_s == 0:
        raise ConfigError(f"job_s must be > 0 and cold_start_s, idle_timeout_s >= 0 (got {job_s}, "
                          f"{cold_start_s}, {idle_timeout_s})")
    on = always_on_usd_per_h / 3600 if always_on_usd_per_h is not None else ACTIVE_USD_PER_S[pool]
    return BreakEven(pool, catalog.pools[pool].usd_per_s, on, job_s, cold_start_s, idle_timeout_s)


@dataclass(frozen=True)
class Comparison:
    """Break-even per pool, as a table: which traffic each platform wins."""

    rows: tuple[BreakEven, ...]

    def _repr_html_(self) -> str:
        first = self.rows[0]
        caption = (f"scale-to-zero vs an always-on worker: jobs of {first.job_s:g} s, cold start "
                   f"{first.cold_start_s:g} s, idle timeout {first.idle_timeout_s:g} s")
        return table([(r.pool, f"${r.flex_usd_per_s * 3600:.2f}", f"${r.always_on_usd_per_s * 3600:.2f}",
                       f"${r.always_on_usd_per_day:.2f}", f"{r.warm_utilisation:.0%}", f"{r.cold_utilisation:.1%}",
                       f"{r.cold_jobs_per_day:,.0f}") for r in self.rows],
                     header=["pool", "flex $/h", "always-on $/h", "always-on $/day", "break-even busy (warm)",
                             "break-even busy (every job cold)", "lone jobs/day at break-even"],
                     caption=caption)


def compare(job_s: float, cold_start_s: float, idle_timeout_s: float, pools: list[str] | None = None,
            catalog: Catalog | None = None) -> Comparison:
    """``break_even`` for each pool (default: every pool with a flex and an active price)."""
    catalog = catalog or default_catalog()
    pools = pools or [p for p, g in catalog.pools.items() if g.usd_per_s is not None and p in ACTIVE_USD_PER_S]
    return Comparison(tuple(break_even(p, job_s, cold_start_s, idle_timeout_s, catalog=catalog) for p in pools))
