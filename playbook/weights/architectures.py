"""Real pipelines analysed from their published configs with meta tensors: exact parameters and bytes, no download.

Why: the demo model is tiny, so its numbers (a few MB, a VRAM need that is mostly the CUDA context) teach
nothing about sizing a real deployment. A model's parameter count and bytes follow from its architecture alone,
and the architecture is its ``config.json``: building each component from its config on torch's ``meta``
device allocates no memory and reads no weights, yet every parameter has its real shape.

How: ``playbook/data/architectures/<name>/`` holds a pipeline's ``model_index.json`` and each weighted
component's ``config.json`` as its repository publishes them (sources in that folder's README).
``analyze_architecture(arch)`` builds each component with diffusers' ``from_config`` or the transformers
class under ``torch.device("meta")``, counts its parameters (tied ones once) and persistent buffers, prices
them at the dtype the published weight files use (``arch.stored``), and hands the components to
``playbook.weights.analyze.assemble``: the same ``Analysis`` (VRAM estimate, volume size, placements, pools)
as a model folder read from its safetensors headers. ``analyze_folder_configs(path, stored)`` does the same
for any pipeline folder's configs (the tests compare it with the header analysis of the same folder).
Only the weights are counted: the tokenizer files a pipeline also reads (a few MB) are not here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from playbook.core.errors import ConfigError
from playbook.weights import analyze
from playbook.weights.analyze import DTYPE_BYTES, FLOAT_DTYPES, Analysis, Component, WeightFile

ROOT = Path(__file__).resolve().parent.parent / "data" / "architectures"


@dataclass(frozen=True)
class Architecture:
    """A published pipeline: where its configs are, its repository, and the dtype its weights are used in."""

    key: str  # folder under playbook/data/architectures
    title: str
    hf_repo: str
    stored: str  # safetensors dtype of the weight files one deploys (the fp16 variant, or bf16 as published)
    load_dtype: str  # the torch dtype it runs in

    @property
    def folder(self) -> Path:
        return ROOT / self.key


ARCHITECTURES = (
    Architecture("stable-diffusion-v1-5", "Stable Diffusion 1.5", "stable-diffusion-v1-5/stable-diffusion-v1-5",
                 "F16", "float16"),
    Architecture("stable-diffusion-xl-base-1.0", "SDXL base 1.0", "stabilityai/stable-diffusion-xl-base-1.0",
                 "F16", "float16"),
    Architecture("flux.1-dev", "FLUX.1 [dev]", "black-forest-labs/FLUX.1-dev", "BF16", "bfloat16"),
)


def build_meta(library: str, class_name: str, config: dict):
    """The component ``class_name`` built from ``config`` on the meta device: real shapes, no memory."""
    import torch

    if library == "diffusers":
        import diffusers

        cls = getattr(diffusers, class_name)
        with torch.device("meta"):
            return cls.from_config(config)
    if class_name == "StableDiffusionSafetyChecker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
        from transformers import CLIPConfig

        cls, cfg = StableDiffusionSafetyChecker, CLIPConfig(**config)
    elif library == "transformers":
        import transformers

        cls = getattr(transformers, class_name)
        cfg = cls.config_class(**config)
    else:
        raise ConfigError(f"{class_name} ({library}): the meta analysis builds diffusers and transformers "
                          "components only.")
    with torch.device("meta"):
        return cls(cfg)


def tensor_sizes(module) -> dict[str, tuple[int, bool]]:
    """What ``save_pretrained`` writes: each parameter (tied ones once) and persistent buffer, as
    name -> (elements, floating)."""
    saved = set(module.state_dict())
    sizes = {name: (p.numel(), p.is_floating_point()) for name, p in module.named_parameters()}
    sizes.update({name: (b.numel(), b.is_floating_point()) for name, b in module.named_buffers() if name in saved})
    return sizes


def meta_component(folder: Path, name: str, library: str, class_name: str, stored: str) -> Component:
    """One component counted from its ``config.json``; floating tensors priced at ``stored``."""
    config_path = folder / name / "config.json"
    if not config_path.is_file():
        return Component(name, library, class_name, [])
    config = json.loads(config_path.read_text())
    sizes = tensor_sizes(build_meta(library, class_name, config))
    counts: dict[str, int] = {}
    for n, floating in sizes.values():
        dtype = stored if floating else "I64"
        counts[dtype] = counts.get(dtype, 0) + n
    kept = analyze.kept_fp32_of(class_name, ((k, n) for k, (n, floating) in sizes.items() if floating))
    size = sum(n * DTYPE_BYTES[d] for d, n in counts.items())
    return Component(name, library, class_name, [WeightFile(f"{name}/config.json (meta)", size, counts, kept)],
                     config)


def analyze_folder_configs(path: Path | str, stored: str, dtype: str | None = None, width: int | None = None,
                           height: int | None = None, batch: int = 1) -> Analysis:
    """The analysis of the pipeline whose ``model_index.json`` and component configs are in ``path``, its
    weights counted on the meta device and priced at ``stored`` (a safetensors dtype: F32, F16, BF16)."""
    root = Path(path)
    if stored not in FLOAT_DTYPES:
        raise ConfigError(f"stored must be a floating safetensors dtype ({', '.join(sorted(FLOAT_DTYPES))}), "
                          f"not {stored!r}.")
    index = json.loads((root / "model_index.json").read_text())
    components = [meta_component(root, name, entry[0], entry[1], stored) for name, entry in index.items()
                  if not name.startswith("_") and isinstance(entry, list) and len(entry) == 2 and entry[0]]
    return analyze.assemble(str(root), str(index.get("_class_name", "")), components, dtype, width, height, batch)


def analyze_architecture(arch: Architecture, width: int | None = None, height: int | None = None,
                         batch: int = 1) -> Analysis:
    """``arch`` at its load dtype, its VRAM estimate at its native size unless given."""
    return analyze_folder_configs(arch.folder, arch.stored, arch.load_dtype, width, height, batch)


def analyze_all(batch: int = 1) -> list[tuple[Architecture, Analysis]]:
    return [(arch, analyze_architecture(arch, batch=batch)) for arch in ARCHITECTURES]


def comparison(entries: list[tuple[str, Analysis]], headroom: float = 0.2, catalog=None) -> list[dict]:
    """One row per (label, analysis): parameters, weights at the load dtype (exact), the VRAM need (estimate),
    the cheapest pool that holds it with ``headroom``, the volume size and the recommended placement."""
    rows = []
    for label, a in entries:
        pools = a.fitting_pools(catalog, headroom)
        rows.append({"model": label, "pipeline": a.pipeline_class, "params": a.params, "load dtype": a.dtype,
                     "size": f"{a.width}x{a.height}", "weights_gb": float(f"{a.weights_gpu_bytes / 1e9:.4g}"),
                     "vram_gb": a.vram_gb, "cheapest_pool": pools[0].pool_id if pools else None,
                     "volume_gb": a.volume_gb, "recommended": a.placements().recommended})
    return rows


def component_rows(entries: list[tuple[str, Analysis]]) -> list[dict]:
    """Parameters and bytes of every weighted component, at the stored dtype and at fp32."""
    return [{"model": label, "component": c.name, "class": c.class_name, "params": c.params,
             "stored": ", ".join(sorted(c.params_by_dtype)), "stored_bytes": c.disk_bytes,
             "fp32_bytes": c.params * DTYPE_BYTES["F32"]}
            for label, a in entries for c in a.components if c.files]


def placement_rows(entries: list[tuple[str, Analysis]], **kwargs) -> list[dict]:
    """Every placement of every model: cold start (not billed + billed seconds) and standing cost."""
    rows = []
    for label, a in entries:
        table = a.placements(**kwargs)
        rows += [{"model": label, "placement": r.placement, "cold_start_s": r.cold_start_s, "billed_s": r.billed_s,
                  "usd_per_month": r.standing_usd_per_month, "recommended": r.placement == table.recommended}
                 for r in table.rows]
    return rows
