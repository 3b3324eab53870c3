"""The VRAM estimate of real model shapes, without their weights: SD 1.5 and SDXL-base as published.

Why: the analysis reads only safetensors headers, so a folder of header-only sparse files (each declares
one tensor with the component's published parameter count; the file is as long as the header says, but
holds no data on disk) gives the exact figures `playbook analyze` would print for the real model, in a
second, with no download. Which terms are GPU-calibrated is printed beside each (playbook.weights.vram).

Run: python benchmarks/bench_estimates.py [--dtype float16]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIP_L = {"hidden_size": 768, "intermediate_size": 3072, "max_position_embeddings": 77}
VAE = {"block_out_channels": [128, 256, 512, 512], "latent_channels": 4}
# (pipeline class, {component: (library, class, parameters, config)}): the published parameter counts
SHAPES = {
    "sd-1.5": ("StableDiffusionPipeline", {
        "unet": ("diffusers", "UNet2DConditionModel", 859_520_964,
                 {"block_out_channels": [320, 640, 1280, 1280], "sample_size": 64, "cross_attention_dim": 768}),
        "vae": ("diffusers", "AutoencoderKL", 83_653_863, {**VAE, "sample_size": 512}),
        "text_encoder": ("transformers", "CLIPTextModel", 123_060_480, CLIP_L),
    }),
    "sdxl-base": ("StableDiffusionXLPipeline", {
        "unet": ("diffusers", "UNet2DConditionModel", 2_567_463_684,
                 {"block_out_channels": [320, 640, 1280], "sample_size": 128, "cross_attention_dim": 2048,
                  "addition_embed_type": "text_time"}),
        "vae": ("diffusers", "AutoencoderKL", 83_653_863, {**VAE, "sample_size": 1024, "force_upcast": True}),
        "text_encoder": ("transformers", "CLIPTextModel", 123_060_480, CLIP_L),
        "text_encoder_2": ("transformers", "CLIPTextModelWithProjection", 694_659_840,
                           {"hidden_size": 1280, "intermediate_size": 5120, "max_position_embeddings": 77}),
    }),
}


def sparse_safetensors(path: Path, params: int, dtype: str = "F16") -> None:
    """One tensor of ``params`` elements: a real header, the data a hole (sparse on disk)."""
    size = params * 2
    header = json.dumps({"weight": {"dtype": dtype, "shape": [params], "data_offsets": [0, size]}}).encode()
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + size)


def shape_folder(name: str, root: Path) -> Path:
    pipeline_class, components = SHAPES[name]
    folder = root / name
    index = {"_class_name": pipeline_class, "_diffusers_version": "0.42.1"}
    for comp, (library, cls, params, config) in components.items():
        (folder / comp).mkdir(parents=True, exist_ok=True)
        (folder / comp / "config.json").write_text(json.dumps({"_class_name": cls, **config}))
        stem = "diffusion_pytorch_model" if library == "diffusers" else "model"
        sparse_safetensors(folder / comp / f"{stem}.safetensors", params)
        index[comp] = [library, cls]
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def estimate_of(name: str, dtype: str = "float16", **kwargs):
    from playbook.weights import analyze

    with tempfile.TemporaryDirectory() as tmp:
        return analyze.analyze(shape_folder(name, Path(tmp)), dtype=dtype, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    args = parser.parse_args()
    for name in SHAPES:
        for size in (None, 512, 1024):
            a = estimate_of(name, args.dtype, width=size, height=size)
            print(f"\n{name} ({a.pipeline_class}), {args.dtype}, {a.width}x{a.height}"
                  f"{' (native)' if size is None else ''}: {a.params:,} parameters, peak {a.vram_gb} GB, "
                  f"fits: {', '.join(p.pool_id for p in a.fitting_pools()[:3])}")
            for t in a.vram_terms():
                print(f"  {t['gb']:>9.3f}  {t['term']}  [{t['calibration']}]")


if __name__ == "__main__":
    main()
