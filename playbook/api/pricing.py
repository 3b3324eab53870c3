"""Dollars: prices (per pool and second, dated with their source), storage, per-job and per-run cost from
measured ``delayTime``/``executionTime`` and the workers' billed seconds, and the reconciliation of an
estimate with ``GET /v2/billing/serverless``.

Why here and not in the simulator: the same arithmetic prices a simulated run (``playbook.cost.simulate``), a
measured local run and a real RunPod run; one module keeps the three comparable.

Billing facts (docs/runpod-facts.md §7): a worker is billed per second, rounded up, from its start until it has fully
stopped, at its pool's price; start-up, execution and the idle timeout are billed. Network volumes bill every
month, used or not.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from playbook.api.gpus import PRICES_AS_OF, PRICES_SOURCE, Catalog, default_catalog
from playbook.core.html import fields_table

SECONDS_PER_DAY = 86_400
SECONDS_PER_MONTH = 30 * SECONDS_PER_DAY


@dataclass(frozen=True)
class StoragePrices:
    """Storage prices per GB-month (RunPod docs, pods/storage/types and create-network-volumes)."""

    network_volume_usd_per_gb_month: float = 0.07  # standard tier, under 1 TB
    network_volume_over_1tb_usd_per_gb_month: float = 0.05
    container_disk_usd_per_gb_month: float = 0.10
    as_of: str = "2026-06"
    source: str = "docs.runpod.io/pods/storage/types ($0.07/GB/month network volume, $0.10 container disk)"

    def volume_usd_per_month(self, size_gb: float) -> float:
        rate = (self.network_volume_usd_per_gb_month if size_gb < 1000
                else self.network_volume_over_1tb_usd_per_gb_month)
        return size_gb * rate


STORAGE = StoragePrices()


@dataclass(frozen=True)
class Price:
    """What one worker costs per second on a pool, with where the figure comes from."""

    pool: str
    usd_per_s: float
    gpu_count: int = 1
    as_of: str = PRICES_AS_OF
    source: str = PRICES_SOURCE

    @property
    def usd_per_h(self) -> float:
        return self.usd_per_s * 3600

    def _repr_html_(self) -> str:
        return fields_table({"pool": self.pool, "usd_per_s": f"{self.usd_per_s:.6f}",
                             "usd_per_h": f"{self.usd_per_h:.3f}", "gpu_count": self.gpu_count,
                             "as_of": self.as_of, "source": self.source})


def price(pool: str, catalog: Catalog | None = None, gpu_count: int = 1) -> Price:
    """The price of a worker on ``pool`` (pool price x GPUs per worker); the catalog is overridable
    (``playbook.api.gpus.load_catalog``) or live (``live_catalog``) when a key is set."""
    from playbook.core.errors import ConfigError

    catalog = catalog or default_catalog()
    if pool not in catalog.pools:
        raise ConfigError(f"unknown GPU pool {pool[:40]!r}; known: {sorted(catalog.pools)}.")
    usd = catalog.pools[pool].usd_per_s
    if usd is None:
        raise ConfigError(f"pool {pool} has no known price: set pools.{pool}.usd_per_s in a catalog override "
                          "file (PLAYBOOK_GPU_CATALOG) or read the live catalog.")
    return Price(pool, usd * gpu_count, gpu_count, catalog.prices_as_of, catalog.source)


@dataclass(frozen=True)
class JobCost:
    """One job: what the caller waited (delay) and what its execution cost on the worker."""

    job_id: str
    delay_s: float
    execution_s: float
    execution_usd: float

    @property
    def latency_s(self) -> float:
        return self.delay_s + self.execution_s


def job_cost(status: dict, worker_price: Price) -> JobCost:
    """From a /status body (``delayTime``/``executionTime`` in ms)."""
    delay_s = (status.get("delayTime") or 0) / 1000
    execution_s = (status.get("executionTime") or 0) / 1000
    return JobCost(str(status.get("id", "")), delay_s, execution_s, execution_s * worker_price.usd_per_s)


@dataclass(frozen=True)
class RunCost:
    """A run: billed worker-seconds against the seconds jobs actually executed."""

    jobs: int
    billed_s: float
    busy_s: float
    usd: float
    usd_per_job: float
    idle_share: float  # of the spend, the part no job executed in (start-up and idle timeout)

    def to_dict(self) -> dict:
        return asdict(self)

    def _repr_html_(self) -> str:
        return fields_table({"jobs": self.jobs, "billed worker time": f"{self.billed_s:g} s",
                             "busy (executing) time": f"{self.busy_s:.1f} s", "cost": f"${self.usd:.6f}",
                             "cost per job": f"${self.usd_per_job:.6f}",
                             "idle share of the spend": f"{self.idle_share:.0%}"})


def run_cost(billed_s: float, busy_s: float, jobs: int, worker_price: Price) -> RunCost:
    usd = billed_s * worker_price.usd_per_s
    return RunCost(jobs, billed_s, busy_s, usd, usd / jobs if jobs else math.nan,
                   max(0.0, 1 - busy_s / billed_s) if billed_s else 0.0)


def billed_seconds(start_s: float, stop_s: float) -> int:
    """RunPod's rounding: per second, rounded up, from start to full stop."""
    return max(0, math.ceil(round(stop_s - start_s, 9)))


def always_on_usd_per_day(worker_price: Price, workers: int = 1) -> float:
    return workers * worker_price.usd_per_s * SECONDS_PER_DAY


@dataclass(frozen=True)
class Reconciliation:
    """An estimate set against the billing API's totals for the same window."""

    estimated_usd: float
    billed_usd: float

    @property
    def difference_usd(self) -> float:
        return self.billed_usd - self.estimated_usd

    @property
    def relative(self) -> float:
        return self.difference_usd / self.billed_usd if self.billed_usd else 0.0

    def _repr_html_(self) -> str:
        return fields_table({"estimated_usd": f"{self.estimated_usd:.6f}", "billed_usd": f"{self.billed_usd:.6f}",
                             "difference_usd": f"{self.difference_usd:+.6f}", "relative": f"{self.relative:+.1%}"})


def reconcile(estimated_usd: float, billing: dict, before: dict | None = None) -> Reconciliation:
    """``billing`` is a ``GET /v2/billing/serverless`` answer (local platform or RunPod); ``before``, the same
    query read before the run, when the endpoint had billed earlier work: the run's bill is the difference."""
    def total(answer: dict | None) -> float:
        return float(answer["metadata"]["totals"]["totalAmount"]) if answer else 0.0

    return Reconciliation(estimated_usd, total(billing) - total(before))


def serverless_billing(client, start_time: str | None = None, end_time: str | None = None,
                       bucket_size: str = "hour", serverless_id: str | None = None) -> dict:
    """``GET /v2/billing/serverless`` through a ``ControlClient`` (local platform or RunPod: same call)."""
    params = {"bucketSize": bucket_size, "startTime": start_time, "endTime": end_time, "serverlessId": serverless_id}
    return client.request("GET", "/billing/serverless", params={k: v for k, v in params.items() if v})


def volume_billing(client, start_time: str | None = None, end_time: str | None = None,
                   bucket_size: str = "hour", volume_id: str | None = None) -> dict:
    """``GET /v2/billing/network-volumes`` through a ``ControlClient``."""
    params = {"bucketSize": bucket_size, "startTime": start_time, "endTime": end_time, "networkVolumeId": volume_id}
    return client.request("GET", "/billing/network-volumes", params={k: v for k, v in params.items() if v})
