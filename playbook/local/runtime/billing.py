"""Billing on the local platform, as RunPod bills (docs/runpod-facts.md §7; docs.runpod.io/serverless/pricing):
each worker from its start until it has fully stopped, rounded up to the second, at its pool's price.
Start-up, execution and the idle timeout are all billed, because they all lie between start and stop.

Why a ledger apart from the workers: an endpoint's workers are forgotten when it is deleted, but its bill
is not. The engine opens an entry when a worker starts and closes it when the worker has exited; the
control API's ``GET /v2/billing/serverless`` and ``/v2/billing/network-volumes`` sum the entries into
RunPod's time buckets (the spec's ``ListServerlessBillingResponse``), so reconciliation code reads the
same answer here and on RunPod.

A worker's billed interval is ``[start, start + ceil(stop - start))``; it is split over the buckets it
overlaps, so the records of all buckets add up to ``billed_s x usd_per_s`` exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from playbook.api.pricing import SECONDS_PER_MONTH, billed_seconds
from playbook.core.errors import ConfigError

BUCKET_SIZES = ("hour", "day", "week", "month", "year")
DEFAULT_POOL = "AMPERE_16"  # the local control API's default gpu block


@dataclass
class BilledWorker:
    """One worker's line on the bill: wall-clock epoch seconds, price per second of the whole worker."""

    worker_id: str
    endpoint_id: str
    pool: str
    usd_per_s: float
    start_s: float
    stop_s: float | None = None  # None while the worker has not fully stopped

    def billed_s(self, now_s: float | None = None) -> int:
        """Seconds billed: ceil(stop - start); a worker still running is billed up to now."""
        end = self.stop_s if self.stop_s is not None else (time.time() if now_s is None else now_s)
        return billed_seconds(self.start_s, end)

    def usd(self, now_s: float | None = None) -> float:
        return self.billed_s(now_s) * self.usd_per_s


class Ledger:
    """The platform's bill: one BilledWorker per worker ever started."""

    def __init__(self) -> None:
        self.entries: dict[str, BilledWorker] = {}

    def open(self, worker_id: str, endpoint_id: str, pool: str, usd_per_s: float, start_s: float) -> None:
        self.entries[worker_id] = BilledWorker(worker_id, endpoint_id, pool, usd_per_s, start_s)

    def close(self, worker_id: str, stop_s: float) -> None:
        entry = self.entries.get(worker_id)
        if entry is not None and entry.stop_s is None:
            entry.stop_s = stop_s

    def workers(self, endpoint_id: str | None = None) -> list[BilledWorker]:
        return [e for e in self.entries.values() if endpoint_id is None or e.endpoint_id == endpoint_id]


def price_of(cfg, catalog) -> tuple[str, float]:
    """The pool an endpoint's workers run on (its first: below 5 workers RunPod uses the first-priority pool)
    and the worker's price per second (pool price x GPUs per worker; 0 when the price is unknown)."""
    gpu = (cfg.extra.get("rest") or {}).get("gpu") or {}
    pool = (gpu.get("pools") or [DEFAULT_POOL])[0]
    entry = catalog.pools.get(pool)
    usd = entry.usd_per_s if entry is not None and entry.usd_per_s is not None else 0.0
    return pool, usd * int(gpu.get("count") or 1)


# -- buckets ----------------------------------------------------------------------------------------------

def _floor(t: datetime, size: str) -> datetime:
    if size == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if size == "day":
        return day
    if size == "week":
        return day - timedelta(days=day.weekday())
    if size == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(t: datetime, size: str) -> datetime:
    if size in ("hour", "day", "week"):
        return t + {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[size]
    if size == "month":
        return t.replace(year=t.year + (t.month == 12), month=t.month % 12 + 1)
    return t.replace(year=t.year + 1)


def parse_time(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{field} must be an RFC 3339 time such as 2026-06-01T00:00:00Z, not {value[:60]!r}.") \
            from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    size: str

    def buckets(self) -> list[tuple[datetime, datetime]]:
        out, t = [], self.start
        while t < self.end:
            out.append((t, _next(t, self.size)))
            t = out[-1][1]
        return out

    def query(self) -> dict:
        return {"startTime": iso(self.start), "endTime": iso(self.end), "bucketSize": self.size}


def window(start: str | None, end: str | None, size: str | None, last_n: str | int | None,
           now_s: float | None = None) -> Window:
    """The resolved query window, snapped to bucket boundaries as RunPod's spec says (defaults: 30 days
    ago to now, bucketSize day; lastN counts buckets back from the current one)."""
    size = size or "day"
    if size not in BUCKET_SIZES:
        raise ConfigError(f"bucketSize must be one of {list(BUCKET_SIZES)}, not {size[:30]!r}.")
    now = datetime.fromtimestamp(time.time() if now_s is None else now_s, UTC)
    if last_n is not None:
        if start or end:
            raise ConfigError("lastN is mutually exclusive with startTime/endTime; send one or the other.")
        try:
            n = int(last_n)
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"lastN must be an integer >= 1, not {str(last_n)[:30]!r}.")
        current = _floor(now, size)
        t = current
        for _ in range(n - 1):
            t = _floor(t - timedelta(seconds=1), size)
        return Window(t, _next(current, size), size)
    lo = parse_time(start, "startTime") if start else now - timedelta(days=30)
    hi = parse_time(end, "endTime") if end else now
    if hi <= lo:
        raise ConfigError("endTime must be after startTime.")
    lo = _floor(lo, size)
    hi = hi if _floor(hi, size) == hi else _next(_floor(hi, size), size)
    return Window(lo, hi, size)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


# -- records ----------------------------------------------------------------------------------------------

def serverless_records(ledger: Ledger, win: Window, serverless_id: str | None = None,
                       now_s: float | None = None) -> dict:
    """``ListServerlessBillingResponse``: one record per endpoint per bucket in which it was billed."""
    now_s = time.time() if now_s is None else now_s
    records = []
    for b0, b1 in win.buckets():
        s0, s1 = b0.timestamp(), b1.timestamp()
        per_endpoint: dict[str, float] = {}
        for e in ledger.workers(serverless_id):
            end = e.start_s + e.billed_s(now_s)
            usd = _overlap(e.start_s, end, s0, s1) * e.usd_per_s
            if usd > 0:
                per_endpoint[e.endpoint_id] = per_endpoint.get(e.endpoint_id, 0.0) + usd
        for endpoint_id, usd in sorted(per_endpoint.items()):
            records.append({"startTime": iso(b0), "endTime": iso(b1), "serverlessId": endpoint_id,
                            **_amounts(usd)})
    totals = _amounts(sum(r["gpuAmount"] for r in records))
    return {"records": records, "metadata": {
        "query": {**win.query(), "serverlessId": serverless_id}, "recordCount": len(records),
        "uniqueServerlessCount": len({r["serverlessId"] for r in records}), "totals": totals}}


def _amounts(gpu_usd: float) -> dict:
    # local workers have no CPU, disk or fee charge of their own: all of a worker's price is its GPU's
    return {"totalAmount": gpu_usd, "gpuAmount": gpu_usd, "cpuAmount": 0.0, "diskAmount": 0.0, "feeAmount": 0.0}


def volume_records(volumes: list[dict], win: Window, usd_per_gb_month: float, volume_id: str | None = None,
                   now_s: float | None = None) -> dict:
    """``ListNetworkVolumeBillingResponse``: each volume accrues size x price per GB-month from its creation
    (``_created_s``) to its deletion (``_deleted_s``) or now, per bucket."""
    now_s = time.time() if now_s is None else now_s
    records = []
    for b0, b1 in win.buckets():
        for vol in volumes:
            if volume_id is not None and vol["id"] != volume_id:
                continue
            alive_s = _overlap(vol["_created_s"], vol.get("_deleted_s") or now_s, b0.timestamp(), b1.timestamp())
            if alive_s <= 0:
                continue
            usd = vol["size"] * usd_per_gb_month * alive_s / SECONDS_PER_MONTH
            high = vol.get("type") == "HIGH_PERFORMANCE"
            records.append({"startTime": iso(b0), "endTime": iso(b1), "networkVolumeId": vol["id"],
                            "totalAmount": usd, "standardAmount": 0.0 if high else usd,
                            "highPerformanceAmount": usd if high else 0.0})
    totals = {k: sum(r[k] for r in records) for k in ("totalAmount", "standardAmount", "highPerformanceAmount")}
    return {"records": records, "metadata": {
        "query": {**win.query(), "networkVolumeId": volume_id}, "recordCount": len(records),
        "uniqueNetworkVolumeCount": len({r["networkVolumeId"] for r in records}), "totals": totals}}
