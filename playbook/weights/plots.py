"""Pictures and small tables of a model analysis for notebook 01: bytes per component and dtype, the VRAM
need against the pools' VRAM, the VRAM terms (which are exact, which are estimates) and the fitting pools."""

from __future__ import annotations

from playbook.core import html
from playbook.weights.analyze import Analysis


class HtmlBlock(str):
    """Already-escaped HTML that notebooks display as such."""

    def _repr_html_(self) -> str:
        return str(self)


def vram_table(analysis: Analysis) -> HtmlBlock:
    return HtmlBlock(html.table([(t["term"], t["gb"], t["kind"]) for t in analysis.vram_terms()],
                                ["VRAM term", "GB", "exact or estimate"], caption="VRAM at inference"))


def pools_table(analysis: Analysis, catalog=None, headroom: float = 0.2) -> HtmlBlock:
    rows = [(p.pool_id, p.vram_gb, p.usd_per_s, round(analysis.vram_gb / p.vram_gb * 100, 1))
            for p in analysis.fitting_pools(catalog, headroom)]
    return HtmlBlock(html.table(rows, ["pool", "VRAM GB", "$/s", "% of VRAM used"],
                                caption=f"pools that hold {analysis.vram_gb} GB + {headroom:.0%} headroom"))


def bytes_chart(analysis: Analysis):
    """Horizontal bars: MB on disk per component, stacked by dtype."""
    import matplotlib.pyplot as plt

    rows = analysis.dtype_rows()
    components = sorted({r["component"] for r in rows})
    dtypes = sorted({r["dtype"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.5 * max(1, len(components))))
    left = [0.0] * len(components)
    for dtype in dtypes:
        mb = [sum(r["bytes"] for r in rows if r["component"] == c and r["dtype"] == dtype) / 1e6 for c in components]
        ax.barh(components, mb, left=left, label=dtype)
        left = [a + b for a, b in zip(left, mb, strict=True)]
    ax.set_xlabel("MB of tensors on disk")
    ax.set_title("bytes per component and dtype (from safetensors headers)")
    ax.legend(title="dtype")
    fig.tight_layout()
    return fig


def vram_chart(analysis: Analysis, catalog=None, headroom: float = 0.2):
    """The VRAM need (and with headroom) against every pool's VRAM; fitting pools in colour."""
    import matplotlib.pyplot as plt

    from playbook.api.gpus import default_catalog

    pools = sorted((catalog or default_catalog()).pools.values(), key=lambda p: p.vram_gb)
    need = analysis.vram_gb
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar([p.pool_id for p in pools], [p.vram_gb for p in pools],
           color=["tab:green" if p.vram_gb >= need * (1 + headroom) else "tab:gray" for p in pools])
    ax.axhline(need, color="tab:red", label=f"need {need:.2f} GB (estimate)")
    ax.axhline(need * (1 + headroom), color="tab:red", linestyle="--", label=f"+{headroom:.0%} headroom")
    ax.set_ylabel("GB")
    ax.set_title("VRAM need against pool VRAM (green: fits)")
    ax.tick_params(axis="x", rotation=45)
    ax.legend()
    fig.tight_layout()
    return fig
