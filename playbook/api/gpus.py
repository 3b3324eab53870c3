"""The GPU pool catalog: which serverless pools exist, what they hold, what they cost.

Why: RunPod serverless selects GPUs by **pool id** (``ADA_24``) and subtracts GPU **type ids**
(``"NVIDIA GeForce RTX 4090"``) with ``excludedTypes``; mixing the two naming systems, or naming a pool
with no stock in the volume's data center, leaves jobs IN_QUEUE forever. One table maps both and says
where its prices come from and when they were read, because RunPod removed the price table from its
docs on 2026-06-29.

How: ``default_catalog()`` is the dated table of docs/runpod-facts.md §4; ``load_catalog(path)`` overrides prices or
adds pools from a TOML/YAML/JSON file (or PLAYBOOK_GPU_CATALOG); ``cheapest(vram_gb)`` picks the cheapest
pools whose VRAM fits with headroom; ``live_catalog(client)`` reads ``/v2/catalog/gpus`` with
``include=AVAILABILITY&product=SERVERLESS`` for live pools, stock per data center and CUDA versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from playbook.core import settings
from playbook.core.config import load_mapping
from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt
from playbook.core.html import Html, paragraph, table

PRICES_AS_OF = "2026-06"
PRICES_SOURCE = ("RunPod docs, serverless GPU pricing table (flex workers), as of mid-2026; removed from the "
                 "docs on 2026-06-29, see https://www.runpod.io/pricing for current prices")

STOCK_LEVELS = ("NONE", "LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True)
class GpuPool:
    """One serverless pool: its id, the GPU type ids it holds, VRAM per GPU and flex price."""

    pool_id: str
    gpu_types: tuple[str, ...]  # catalog `id`s, usable in excludedTypes
    vram_gb: int
    usd_per_s: float | None  # flex price per GPU-second; None when unknown
    # data center id -> stock level (NONE/LOW/MEDIUM/HIGH); empty when not read live
    stock: dict[str, str] = field(default_factory=dict, compare=False)
    cuda_versions: tuple[str, ...] = ()

    @property
    def usd_per_h(self) -> float | None:
        return None if self.usd_per_s is None else self.usd_per_s * 3600

    def in_stock(self, data_center: str) -> bool:
        return self.stock.get(data_center, "NONE") != "NONE"


# Dated defaults (docs/runpod-facts.md §4). Pools without a published flex price carry None.
_DEFAULT_POOLS = (
    GpuPool("AMPERE_16", ("NVIDIA RTX A4000", "NVIDIA RTX A4500", "NVIDIA RTX 4000 Ada Generation",
                          "NVIDIA RTX 2000 Ada Generation"), 16, 0.00016),
    GpuPool("AMPERE_24", ("NVIDIA L4", "NVIDIA RTX A5000", "NVIDIA GeForce RTX 3090"), 24, 0.00019),
    GpuPool("ADA_24", ("NVIDIA GeForce RTX 4090",), 24, 0.00031),
    GpuPool("ADA_32_PRO", ("NVIDIA GeForce RTX 5090",), 32, None),
    GpuPool("AMPERE_48", ("NVIDIA RTX A6000", "NVIDIA A40"), 48, 0.00034),
    GpuPool("ADA_48_PRO", ("NVIDIA L40", "NVIDIA L40S", "NVIDIA RTX 6000 Ada Generation"), 48, 0.00053),
    GpuPool("AMPERE_80", ("NVIDIA A100 80GB PCIe", "NVIDIA A100-SXM4-80GB"), 80, 0.00076),
    GpuPool("ADA_80_PRO", ("NVIDIA H100 PCIe", "NVIDIA H100 80GB HBM3", "NVIDIA H100 NVL"), 80, 0.00116),
    GpuPool("BLACKWELL_96", ("NVIDIA RTX PRO 6000 Blackwell Server Edition",), 96, None),
    GpuPool("HOPPER_141", ("NVIDIA H200",), 141, 0.00155),
    GpuPool("BLACKWELL_180", ("NVIDIA B200",), 180, None),
)


@dataclass
class Catalog:
    """Pools by id, with the provenance of their prices."""

    pools: dict[str, GpuPool]
    prices_as_of: str = PRICES_AS_OF
    source: str = PRICES_SOURCE
    live: bool = False  # True when stock comes from /v2/catalog/gpus

    def __getitem__(self, pool_id: str) -> GpuPool:
        return self.pools[pool_id]

    def pool_of(self, name: str) -> tuple[str, str | None]:
        """(pool id, GPU type id or None) for a pool id or a GPU name ("RTX 4090", "4090", "H100 PCIe")."""
        if name.upper() in self.pools:
            return name.upper(), None
        wanted = _norm(name)
        hits = [(p.pool_id, t) for p in self.pools.values() for t in p.gpu_types
                if _norm(t) == wanted or _norm(t).endswith(" " + wanted)]
        if not hits:  # "A100" names every A100 type: fine when they make up one whole pool
            hits = [(p.pool_id, t) for p in self.pools.values() for t in p.gpu_types
                    if f" {wanted} " in f" {_norm(t)} "]
            pools = {pool for pool, _ in hits}
            if len(pools) == 1 and {t for _, t in hits} == set(self.pools[next(iter(pools))].gpu_types):
                return next(iter(pools)), None
        if len({t for _, t in hits}) == 1:
            return hits[0]
        known = ", ".join(self.pools)
        if hits:
            raise ConfigError(f"GPU name {excerpt(name)} is ambiguous: it matches {', '.join(t for _, t in hits)}. "
                              f"Use one of those names or a pool id ({known}).")
        raise ConfigError(f"unknown GPU {excerpt(name)}: use a pool id ({known}) or a GPU type id such as "
                          f"'NVIDIA GeForce RTX 4090' (see `playbook gpus`).")

    def resolve(self, names: list[str]) -> tuple[list[str], list[str]]:
        """Pool ids and excludedTypes for a list of pool ids and GPU names.

        A GPU name selects its pool and excludes that pool's other types, as RunPod's docs advise for
        "a specific card"; a pool id anywhere in the list keeps its whole pool."""
        pools: list[str] = []
        wanted_types: dict[str, set[str]] = {}
        whole: set[str] = set()
        for name in names:
            pool, gpu_type = self.pool_of(name)
            if pool not in pools:
                pools.append(pool)
            if gpu_type is None:
                whole.add(pool)
            else:
                wanted_types.setdefault(pool, set()).add(gpu_type)
        excluded = [t for pool in pools if pool not in whole and pool in wanted_types
                    for t in self.pools[pool].gpu_types if t not in wanted_types[pool]]
        return pools, excluded

    def fitting(self, vram_gb: float, headroom: float = 0.2) -> list[GpuPool]:
        """Pools whose VRAM holds ``vram_gb`` plus ``headroom`` (a fraction), cheapest first; pools
        without a known price come last."""
        need = vram_gb * (1 + headroom)
        fits = [p for p in self.pools.values() if p.vram_gb >= need]
        return sorted(fits, key=lambda p: (p.usd_per_s is None, p.usd_per_s or 0, p.vram_gb))

    def cheapest(self, vram_gb: float, headroom: float = 0.2, n: int = 2,
                 data_center: str | None = None) -> list[str]:
        """The ``n`` cheapest pool ids that fit (and, for a live catalog, have stock in ``data_center``).
        Listing two pools gives the scheduler room when one runs dry."""
        fits = self.fitting(vram_gb, headroom)
        if data_center and self.live:
            fits = [p for p in fits if p.in_stock(data_center)]
        if not fits:
            where = f" with stock in {data_center}" if data_center and self.live else ""
            raise ConfigError(f"no GPU pool{where} has {vram_gb * (1 + headroom):.0f} GB of VRAM "
                              f"({vram_gb} GB + {headroom:.0%} headroom); the largest is "
                              f"{max(p.vram_gb for p in self.pools.values())} GB.")
        return [p.pool_id for p in fits[:n]]

    def rows(self) -> list[dict]:
        return [{"pool": p.pool_id, "vram_gb": p.vram_gb, "usd_per_s": p.usd_per_s,
                 "usd_per_h": None if p.usd_per_h is None else round(p.usd_per_h, 3),
                 "gpu_types": ", ".join(p.gpu_types),
                 "stock": ", ".join(f"{dc}:{lvl}" for dc, lvl in sorted(p.stock.items())) if self.live else ""}
                for p in sorted(self.pools.values(), key=lambda p: (p.vram_gb, p.usd_per_s or 1))]

    def table(self) -> str:
        lines = [f"{'pool':<14}{'VRAM':>6}{'$/s':>10}{'$/h':>8}  GPU types"]
        for r in self.rows():
            price = f"{r['usd_per_s']:.5f}" if r["usd_per_s"] is not None else "?"
            per_h = f"{r['usd_per_h']:.2f}" if r["usd_per_h"] is not None else "?"
            lines.append(f"{r['pool']:<14}{r['vram_gb']:>4}GB{price:>10}{per_h:>8}  {r['gpu_types']}")
            if r["stock"]:
                lines.append(f"{'':<14}stock: {r['stock']}")
        lines.append(f"prices as of {self.prices_as_of}: {self.source}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        header = ["pool", "VRAM (GB)", "$/s", "$/h", "GPU types"] + (["stock"] if self.live else [])
        rows = [[r["pool"], r["vram_gb"],
                 f"{r['usd_per_s']:.5f}" if r["usd_per_s"] is not None else "?",
                 f"{r['usd_per_h']:.2f}" if r["usd_per_h"] is not None else "?", r["gpu_types"]]
                + ([r["stock"]] if self.live else []) for r in self.rows()]
        return table(rows, header=header) + paragraph(Html("<small>"), f"prices as of {self.prices_as_of}: "
                                                      f"{self.source}", Html("</small>"))


def _norm(name: str) -> str:
    return " ".join(name.lower().replace("nvidia", "").replace("geforce", "").replace("-", " ").split())


def default_catalog() -> Catalog:
    return Catalog({p.pool_id: p for p in _DEFAULT_POOLS})


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The default table with the user's overrides from ``path`` (or PLAYBOOK_GPU_CATALOG).

    The file holds ``prices_as_of``, ``source`` and a ``pools`` table keyed by pool id whose entries may
    set ``usd_per_s``, ``vram_gb`` and ``gpu_types``; a new pool id needs all three."""
    catalog = default_catalog()
    path = path or settings.gpu_catalog_file()
    if not path:
        return catalog
    data = load_mapping(path, "GPU catalog file")
    pools = dict(catalog.pools)
    for pool_id, over in (data.get("pools") or {}).items():
        if not isinstance(over, dict):
            raise ConfigError(f"{path}: pools.{pool_id} must be a table of usd_per_s, vram_gb, gpu_types")
        unknown = set(over) - {"usd_per_s", "vram_gb", "gpu_types"}
        if unknown:
            raise ConfigError(f"{path}: pools.{pool_id}: unknown field(s) {sorted(unknown)}; "
                              "allowed: usd_per_s, vram_gb, gpu_types")
        base = pools.get(pool_id)
        if base is None:
            missing = {"usd_per_s", "vram_gb", "gpu_types"} - set(over)
            if missing:
                raise ConfigError(f"{path}: new pool {pool_id} needs {sorted(missing)}")
            base = GpuPool(pool_id, (), 0, None)
        if "usd_per_s" in over and not isinstance(over["usd_per_s"], (int, float)):
            raise ConfigError(f"{path}: pools.{pool_id}.usd_per_s must be a number (USD per GPU-second)")
        pools[pool_id] = replace(base, usd_per_s=over.get("usd_per_s", base.usd_per_s),
                                 vram_gb=int(over.get("vram_gb", base.vram_gb)),
                                 gpu_types=tuple(over.get("gpu_types", base.gpu_types)))
    return Catalog(pools, prices_as_of=str(data.get("prices_as_of", f"{PRICES_AS_OF} (defaults) + {path}")),
                   source=str(data.get("source", f"user overrides in {path}; defaults: {PRICES_SOURCE}")))


def from_api(gpus: list[dict], base: Catalog | None = None) -> Catalog:
    """A live catalog from ``/v2/catalog/gpus`` entries: pools, types, VRAM, serverless price (the API
    quotes USD per hour), stock per data center and CUDA versions. Pools the API omits are dropped."""
    base = base or default_catalog()
    grouped: dict[str, list[dict]] = {}
    for gpu in gpus:
        if gpu.get("pool"):
            grouped.setdefault(gpu["pool"], []).append(gpu)
    pools: dict[str, GpuPool] = {}
    for pool_id, members in grouped.items():
        stock: dict[str, str] = {}
        cuda: set[str] = set()
        for gpu in members:
            for dc in gpu.get("dataCenters") or []:  # a pool's stock is its best member's
                current = stock.get(dc["id"])
                if current is None or STOCK_LEVELS.index(dc["availability"]) > STOCK_LEVELS.index(current):
                    stock[dc["id"]] = dc["availability"]
            cuda |= {c["version"] for c in gpu.get("cudaVersions") or [] if c.get("available")}
        prices = [g["price"]["serverless"] for g in members if g["price"].get("serverless") is not None]
        known = base.pools.get(pool_id)
        pools[pool_id] = GpuPool(
            pool_id, tuple(g["id"] for g in members), max(g["memory"] for g in members),
            (min(prices) / 3600) if prices else (known.usd_per_s if known else None),
            stock, tuple(sorted(cuda, key=lambda v: tuple(map(int, v.split("."))))))
    return Catalog(pools, prices_as_of="live", source="GET /v2/catalog/gpus?include=AVAILABILITY&product=SERVERLESS",
                   live=True)


def live_catalog(client) -> Catalog:
    """Pools, stock and CUDA versions from the target's ``/v2/catalog/gpus``."""
    return from_api(client.gpus(availability=True))


def picker(catalog: Catalog, vram_gb: float, headroom: float = 0.2, data_center: str | None = None,
           value: str | None = None):
    """An ipywidgets dropdown of the pools that fit, cheapest first; its ``.value`` is a pool id."""
    import ipywidgets as widgets

    fits = catalog.fitting(vram_gb, headroom)
    if data_center and catalog.live:
        fits = [p for p in fits if p.in_stock(data_center)]
    options = [(f"{p.pool_id}: {p.vram_gb} GB, " + (f"${p.usd_per_h:.2f}/h" if p.usd_per_h else "price ?")
                + (f", stock {p.stock.get(data_center, 'NONE')} in {data_center}" if data_center and catalog.live
                   else ""), p.pool_id) for p in fits]
    ids = [pool_id for _, pool_id in options]
    return widgets.Dropdown(options=options, value=value if value in ids else (ids[0] if ids else None),
                            description="GPU pool", layout=widgets.Layout(width="32em"))
