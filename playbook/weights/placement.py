"""Where the weights live: baked into the image, on a network volume, a RunPod cached model, or
downloaded at start. For each, the seconds a cold start spends getting them into memory, which of those
seconds are billed, the standing cost per month and the limits.

Why: placement decides both the cold start a user pays for and the bill that runs when nobody calls the
endpoint. RunPod bills a worker from its start until it has fully stopped; the image pull and a cached
model's download happen while it is *initializing*, which is not billed; a volume read or a download
in the handler happen after start, which is billed (docs/runpod-facts.md §6).

How: ``placement_table(bytes, volume_gb=10)`` with the dated constants below; pass ``rates=Rates(...)``
to override any throughput or price (e.g. measured on your own endpoint), and ``hf_repo=`` when the model
is a public Hugging Face repo (only then is a cached model possible).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from playbook.core import html

RATES_AS_OF = "2026-06"
RATES_SOURCE = ("RunPod docs (network volume pricing; storage and cached-model pages, 2026); volume read "
                "200-400 MB/s on the standard tier per RunPod's docs; other throughputs are estimates")


@dataclass(frozen=True)
class Rates:
    """Throughputs (MB/s, 1 MB = 1e6 bytes) and prices. Estimates are marked; override with measurements."""

    volume_read_mb_s: float = 300  # RunPod docs: 200-400 MB/s standard tier
    local_disk_read_mb_s: float = 1000  # estimate: container disk / host NVMe (baked, cached model)
    image_pull_mb_s: float = 150  # estimate: registry pull incl. layer extraction (not billed)
    hf_download_mb_s: float = 100  # estimate: Hugging Face download from a worker
    volume_usd_per_gb_month: float = 0.07  # RunPod: below 1 TB ($0.05 above)
    volume_large_usd_per_gb_month: float = 0.05
    container_disk_usd_per_gb_month: float = 0.10  # RunPod; billed only while a worker runs
    as_of: str = RATES_AS_OF
    source: str = RATES_SOURCE


@dataclass(frozen=True)
class Placement:
    """One way to place the weights, with cold-start seconds split into unbilled and billed."""

    placement: str
    unbilled_s: float  # while the worker initializes (image pull, cached-model download)
    billed_s: float  # after worker start: reading weights into memory
    standing_usd_per_month: float
    limits: str

    @property
    def cold_start_s(self) -> float:
        return round(self.unbilled_s + self.billed_s, 2)


@dataclass(frozen=True)
class PlacementTable:
    rows: list[Placement]
    recommended: str
    why: str
    rates: Rates
    size_bytes: int = 0  # the bytes the table is for

    def to_dict(self) -> dict:
        return {"rows": [{**asdict(r), "cold_start_s": r.cold_start_s} for r in self.rows],
                "recommended": self.recommended, "why": self.why, "rates": asdict(self.rates),
                "size_bytes": self.size_bytes}

    def _repr_html_(self) -> str:
        body = [[r.placement + (" (recommended)" if r.placement == self.recommended else ""), r.cold_start_s,
                 r.unbilled_s, r.billed_s, r.standing_usd_per_month, r.limits] for r in self.rows]
        return (html.table(body, ["placement", "cold start s", "not billed s", "billed s", "$/month standing",
                                  "limits"], caption="where the weights live")
                + f"<p>{html.cell(self.why)}</p><p><small>rates as of {html.cell(self.rates.as_of)}: "
                  f"{html.cell(self.rates.source)}</small></p>")


BAKE, VOLUME, CACHED, DOWNLOAD = "bake into image", "network volume", "RunPod cached model", "download at start"
BAKE_LIMIT_GB = 15  # above this an image gets slow to build, push and pull (a judgement, not a RunPod limit)


def _gb(size_bytes: int) -> str:
    """GB with two decimals, or two significant digits below 0.1 GB (a tiny model is not "0.00 GB")."""
    gb = size_bytes / 1e9
    return f"{gb:.2f}" if gb >= 0.1 else f"{gb:.2g}"


def volume_usd_per_month(volume_gb: int, rates: Rates = Rates()) -> float:
    rate = rates.volume_usd_per_gb_month if volume_gb < 1000 else rates.volume_large_usd_per_gb_month
    return round(volume_gb * rate, 2)


def placement_table(size_bytes: int, volume_gb: int = 10, hf_repo: str | None = None,
                    rates: Rates | None = None, **overrides) -> PlacementTable:
    """The four placements for ``size_bytes`` of weights; ``overrides`` replace fields of ``rates``."""
    r = replace(rates or Rates(), **overrides)
    mb = size_bytes / 1e6
    local_read = round(mb / r.local_disk_read_mb_s, 2)
    rows = [
        Placement(BAKE, round(mb / r.image_pull_mb_s, 2), local_read, 0.0,
                  "every weight change is a rebuild and push; image grows by the weights; private models fine"),
        Placement(VOLUME, 0.0, round(mb / r.volume_read_mb_s, 2), volume_usd_per_month(volume_gb, r),
                  "pins workers to the volume's data center; bills monthly, used or not; grows, never shrinks; "
                  "concurrent writers corrupt it"),
        Placement(CACHED, round(mb / r.hf_download_mb_s, 2), local_read, 0.0,
                  "Hugging Face repos only; set in RunPod's console or GraphQL modelReferences (not REST v2)"),
        Placement(DOWNLOAD, 0.0, round(mb / r.hf_download_mb_s + local_read, 2), 0.0,
                  "every cold start downloads again (billed); needs network and a token for private repos"),
    ]
    if hf_repo:
        best, why = CACHED, (f"{hf_repo} is on Hugging Face: RunPod downloads it while the worker initializes "
                             "(not billed) and it costs nothing standing.")
    elif size_bytes / 1e9 <= BAKE_LIMIT_GB:
        best, why = BAKE, (f"{_gb(size_bytes)} GB fits in an image: the pull is not billed, loading from "
                           "container disk is fast, and nothing bills while the endpoint is idle.")
    else:
        best, why = VOLUME, (f"{_gb(size_bytes)} GB is too large to bake comfortably: a network volume "
                             "keeps the image small at the price of billed reads and a monthly fee.")
    return PlacementTable(rows, best, why, r, size_bytes)
