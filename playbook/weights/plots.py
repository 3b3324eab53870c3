"""Pictures and small tables of a model analysis for notebook 01: bytes per component and dtype, the VRAM
terms (which are exact, which are estimates), the fitting pools, and the model beside published pipelines
(``playbook.weights.architectures``): a table per model and per component, the VRAM needs on a log axis
against the pools' VRAM sizes, and every placement of every model."""

from __future__ import annotations

from playbook.core import html
from playbook.weights.analyze import Analysis


class HtmlBlock(str):
    """Already-escaped HTML that notebooks display as such."""

    def _repr_html_(self) -> str:
        return str(self)


def vram_table(analysis: Analysis) -> HtmlBlock:
    return HtmlBlock(html.table([(t["term"], t["gb"], t["kind"], t["calibration"]) for t in analysis.vram_terms()],
                                ["VRAM term", "GB", "exact or estimate", "calibrated on"],
                                caption=f"VRAM at inference, {analysis.width}x{analysis.height} x {analysis.batch}"))


def pools_table(analysis: Analysis, catalog=None, headroom: float = 0.2) -> HtmlBlock:
    rows = [(p.pool_id, p.vram_gb, p.usd_per_s, round(analysis.vram_gb / p.vram_gb * 100, 1))
            for p in analysis.fitting_pools(catalog, headroom)]
    return HtmlBlock(html.table(rows, ["pool", "VRAM GB", "$/s", "% of VRAM used"],
                                caption=f"pools that hold {analysis.vram_gb} GB + {headroom:.0%} headroom"))


def sizes_table(analysis: Analysis) -> HtmlBlock:
    """The network volume's size and the container disk per placement, in GB."""
    disk = analysis.container_disk_gb
    return HtmlBlock(html.table([("network volume", analysis.volume_gb),
                                 ("container disk, weights on the volume", disk["network_volume"]),
                                 ("container disk, weights baked into the image", disk["bake"])],
                                ["size", "GB"], caption="volume and container disk"))


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


def _gb(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.2f}" if n_bytes >= 1e8 else f"{n_bytes / 1e9:.4f}"


def models_table(rows: list[dict], headroom: float = 0.2) -> HtmlBlock:
    """``architectures.comparison`` rows: one line per model."""
    body = [(r["model"], r["pipeline"], f"{r['params'] / 1e6:,.1f}", r["load dtype"], r["size"], r["weights_gb"],
             r["vram_gb"], r["cheapest_pool"], r["volume_gb"], r["recommended"]) for r in rows]
    return HtmlBlock(html.table(body, ["model", "pipeline", "params (M)", "load dtype", "image", "weights GB (exact)",
                                       "VRAM GB (estimate)", f"cheapest pool (+{headroom:.0%})", "volume GB",
                                       "placement"],
                                caption="your model beside published pipelines (weights counted on the meta device)"))


def components_table(rows: list[dict]) -> HtmlBlock:
    """``architectures.component_rows``: parameters and GB per component, stored and at fp32."""
    body = [(r["model"], r["component"], r["class"], f"{r['params']:,}", r["stored"], _gb(r["stored_bytes"]),
             _gb(r["fp32_bytes"])) for r in rows]
    return HtmlBlock(html.table(body, ["model", "component", "class", "params", "stored dtype", "GB stored",
                                       "GB at fp32"], caption="parameters and bytes per component (exact)"))


def placements_compare_table(rows: list[dict]) -> HtmlBlock:
    """``architectures.placement_rows``: cold start and standing cost of each placement of each model."""
    body = [(r["model"], r["placement"] + (" (recommended)" if r["recommended"] else ""), r["cold_start_s"],
             r["billed_s"], r["usd_per_month"]) for r in rows]
    styles = ["font-weight: bold" if r["recommended"] else "" for r in rows]
    return HtmlBlock(html.table(body, ["model", "placement", "cold start s", "of which billed s", "$/month standing"],
                                caption="where the weights live, per model (dated rates of playbook.weights.placement)",
                                row_styles=styles))


def vram_compare_chart(entries: list[tuple[str, Analysis]], catalog=None):
    """Each model's VRAM need on a log axis (exact weights + estimated rest), against the pools' VRAM sizes."""
    import matplotlib.pyplot as plt

    from playbook.api.gpus import default_catalog

    labels = [label for label, _ in entries][::-1]
    weights = [a.weights_gpu_bytes / 1e9 for _, a in entries][::-1]
    need = [a.vram_gb for _, a in entries][::-1]
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.55 * len(entries)))
    ax.barh(labels, weights, color="tab:blue", label="weights at load dtype (exact)")
    ax.barh(labels, [n - w for n, w in zip(need, weights, strict=True)], left=weights, color="tab:orange",
            label="activations + CUDA context (estimate)")
    for y, n in enumerate(need):
        ax.annotate(f"{n:.2f} GB", (n, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    sizes = sorted({p.vram_gb for p in (catalog or default_catalog()).pools.values()})
    for gb in sizes:
        ax.axvline(gb, color="gray", linestyle=":", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlim(min(min(weights), 0.1) / 2, max(sizes) * 1.5)
    top = ax.secondary_xaxis("top")
    top.set_xticks(sizes, [str(gb) for gb in sizes], rotation=90, fontsize=6, color="gray")
    top.minorticks_off()
    ax.set_xlabel("GB of VRAM (log scale); dotted lines and top axis: the pools' VRAM sizes in GB")
    ax.set_title("VRAM need at each model's native size and load dtype", pad=18)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
