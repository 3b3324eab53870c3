"""The demo model: a random-weight Stable Diffusion pipeline made entirely offline.

Why: every phase of the playbook (analysis, volume, image, endpoint, jobs) needs a real diffusers
model folder, and the playbook must run with no model hub, no GPU and no account. This module builds
one with the exact structure of a Stable Diffusion pipeline (UNet2DConditionModel, AutoencoderKL,
CLIPTextModel, a CLIPTokenizer whose byte-level vocabulary is written here, a DDIM scheduler) and
saves it with ``save_pretrained`` as safetensors into a folder laid out like
``/runpod-volume/models/<name>``. Its images are noise, but every code path is the real one.

How: ``make_demo_model()`` (seconds, a few MB) or ``make_demo_model(size="medium")`` (a few hundred
MB, for benchmarks). Weights are seeded, so two runs write byte-identical files. Files are made
world-readable (``save_pretrained`` writes 0600, which a non-root container user cannot read).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import demo_model_dir
from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt
from playbook.core.html import fields_table

SEED = 1234


@dataclass(frozen=True)
class DemoSize:
    """Architecture knobs for one size of the demo pipeline."""

    unet_channels: tuple[int, ...]
    unet_layers: int
    vae_channels: tuple[int, ...]
    text_hidden: int
    text_layers: int
    text_heads: int
    norm_groups: int


SIZES: dict[str, DemoSize] = {
    # under 1 MB, loads in well under a second: tests and notebooks. Every size has a VAE that scales
    # by 8 like Stable Diffusion, so a 512x512 request is a 64x64 latent (not 256x256: minutes on CPU)
    "tiny": DemoSize((8, 16), 1, (8, 8, 16, 16), 32, 2, 4, 4),
    # tens of MB: a model whose load time is visible
    "small": DemoSize((32, 64, 128), 1, (32, 64, 128, 128), 128, 4, 4, 8),
    # a few hundred MB: benchmarks of volume copy, image size and cold start
    "medium": DemoSize((80, 160, 320, 320), 2, (64, 128, 256, 256), 512, 8, 8, 16),
}


@dataclass(frozen=True)
class DemoModel:
    """Where a demo model was written, how big it is and how long it took."""

    path: Path
    size: str
    size_mb: float
    seconds: float
    files: int
    made: bool = True  # False when an existing model was kept

    def _repr_html_(self) -> str:
        return fields_table({"demo model": self.path, "size setting": self.size, "size_mb": f"{self.size_mb:.1f}",
                             "files": self.files,
                             "made in" if self.made else "already there, checked in": f"{self.seconds:.1f} s"})


def _byte_chars() -> list[str]:
    """GPT-2/CLIP's printable stand-ins for the 256 byte values (the byte-level BPE alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def write_tokenizer_files(folder: Path) -> Path:
    """A byte-level CLIP vocabulary (every byte, alone and word-final) and an empty merge list."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder


def build_pipeline(size: str = "tiny"):
    """The random-weight pipeline in memory (seeded, fp32)."""
    from playbook.core.config import worker_on_path

    worker_on_path()
    from imagegen.pipeline import quiet_torchvision_fallback

    quiet_torchvision_fallback()  # the same warning the worker filters, raised by diffusers' import here
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if size not in SIZES:
        raise ConfigError(f"demo model size must be one of {', '.join(SIZES)}, not {excerpt(size)}.")
    s = SIZES[size]
    n = len(s.unet_channels)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_tokenizer_files(Path(tmp)), model_max_length=77)
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=s.unet_layers,
        block_out_channels=s.unet_channels, norm_num_groups=s.norm_groups,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        cross_attention_dim=s.text_hidden, attention_head_dim=max(1, s.unet_channels[0] // 8),
    )
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=s.vae_channels,
        down_block_types=("DownEncoderBlock2D",) * len(s.vae_channels),
        up_block_types=("UpDecoderBlock2D",) * len(s.vae_channels), norm_num_groups=s.norm_groups,
        sample_size=64,
    )
    torch.manual_seed(SEED + 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=s.text_hidden, intermediate_size=s.text_hidden * 4,
        num_hidden_layers=s.text_layers, num_attention_heads=s.text_heads, max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, projection_dim=s.text_hidden,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def make_demo_model(path: Path | str | None = None, size: str = "tiny") -> Path:
    """Write the demo pipeline to ``path`` (default: the local volume's models/tiny-sd) and return it.

    The folder is written beside the target and moved into place, so a half-written model never sits
    at ``path``.
    """
    return make_demo_model_timed(path, size).path


def make_demo_model_timed(path: Path | str | None = None, size: str = "tiny") -> DemoModel:
    """``make_demo_model`` that also reports size and time, for notebooks and benchmarks."""
    start = time.perf_counter()
    target = Path(path) if path else demo_model_dir()
    pipe = build_pipeline(size)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        pipe.save_pretrained(staging, safe_serialization=True)
        write_tokenizer_files(staging / "tokenizer")  # also loadable by tokenizers that want these files
        (staging / "demo_model.json").write_text(json.dumps({"size": size, "seed": SEED}) + "\n")
        make_world_readable(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _summary(target, size, time.perf_counter() - start, made=True)


def _summary(path: Path, size: str, seconds: float, made: bool) -> DemoModel:
    files = [p for p in path.rglob("*") if p.is_file()]
    return DemoModel(path, size, sum(p.stat().st_size for p in files) / 1e6, seconds, len(files), made)


def make_world_readable(folder: Path) -> None:
    """0644 files and 0755 folders: save_pretrained writes 0600, unreadable by a non-root container user."""
    os.chmod(folder, 0o755)
    for root, dirs, names in os.walk(folder):
        for d in dirs:
            os.chmod(Path(root) / d, 0o755)
        for name in names:
            os.chmod(Path(root) / name, 0o644)


def is_demo_model(path: Path | str, size: str | None = None) -> bool:
    """True when ``path`` holds a demo model made by this module (of ``size``, when given)."""
    marker = Path(path) / "demo_model.json"
    if not (Path(path) / "model_index.json").is_file() or not marker.is_file():
        return False
    return size is None or json.loads(marker.read_text()).get("size") == size


def ensure_demo_model(path: Path | str | None = None, size: str = "tiny") -> Path:
    """The demo model at ``path``, made first if it is missing (or was made with another size)."""
    return ensure_demo_model_timed(path, size).path


def ensure_demo_model_timed(path: Path | str | None = None, size: str = "tiny") -> DemoModel:
    """``ensure_demo_model`` that reports size and time, for notebooks."""
    start = time.perf_counter()
    target = Path(path) if path else demo_model_dir()
    if is_demo_model(target, size):
        return _summary(target, size, time.perf_counter() - start, made=False)
    return make_demo_model_timed(target, size)
