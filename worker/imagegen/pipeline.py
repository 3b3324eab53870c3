"""Load a diffusers text-to-image pipeline once, and generate with it.

Why here and not in the handler: loading is the slow part of a cold start, so it happens exactly once
per worker, and the choices that decide speed and memory (device, dtype, attention) are made in one
place and reported by the health action. Any pipeline folder with a ``model_index.json`` loads
(DiffusionPipeline reads the class from it), strictly from local files: a worker never downloads.

Settings (environment): WORKER_DEVICE = auto | cuda | cpu; WORKER_DTYPE = auto | fp16 | bf16 | fp32
(auto: fp16 on a GPU, fp32 on CPU); MODEL_VARIANT = the weight files' variant (``fp16`` for
``*.fp16.safetensors``; unset: auto-detected by ``fitness.choose_variant``).

A request without a size gets the model's native one (``native_size``: the denoiser's ``sample_size`` x
the VAE scale factor, as diffusers' pipelines default it: 512 for SD 1.5, 1024 for SDXL). The speed options
(channels-last, fused QKV, SDPA kernel, torch.compile, CUDA graphs) are in speed.py.
"""

from __future__ import annotations

import inspect
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imagegen import speed
from imagegen.steps import host_timesteps

DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}


@dataclass
class Loaded:
    """A pipeline in memory and how it was loaded."""

    pipe: object
    device: str
    dtype: str  # fp16 | bf16 | fp32
    attention: list[str]
    load_s: float
    options: speed.Options = field(default_factory=speed.Options)
    speed: list[str] = field(default_factory=list)  # the speed options that took effect
    variant: str | None = None  # the weight files' variant loaded (None: the plain files)
    width: int = 512  # the model's native size: what a request without width/height gets
    height: int = 512

    def describe(self, model_path: str = "") -> str:
        """One log line: what this worker serves."""
        return (f"serving {type(self.pipe).__name__}{' from ' + model_path if model_path else ''}: variant "
                f"{self.variant or '(plain files)'}, {self.dtype} on {self.device}, default size "
                f"{self.width}x{self.height}, attention {', '.join(self.attention) or '(default)'}, "
                f"loaded in {self.load_s:.2f} s")


def choose_device(setting: str = "auto") -> str:
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting not in ("cuda", "cpu"):
        raise ValueError(f"WORKER_DEVICE must be auto, cuda or cpu, not {setting!r}")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ValueError("WORKER_DEVICE=cuda but torch sees no CUDA GPU (check the image's CUDA and the driver)")
    return setting


def choose_dtype(device: str, setting: str = "auto") -> str:
    if setting == "auto":
        return "fp16" if device == "cuda" else "fp32"
    if setting not in DTYPES:
        raise ValueError(f"WORKER_DTYPE must be auto, {', '.join(DTYPES)}, not {setting!r}")
    return setting


def use_sdpa(pipe) -> list[str]:
    """Swap classic attention processors for PyTorch SDPA ones; return the processor classes in use."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    names = set()
    for component in pipe.components.values():
        processors = getattr(component, "attn_processors", None)
        if not processors:
            continue
        if any(type(p) is AttnProcessor for p in processors.values()):
            component.set_attn_processor(
                {k: AttnProcessor2_0() if type(p) is AttnProcessor else p for k, p in processors.items()})
        names.update(type(p).__name__ for p in component.attn_processors.values())
    return sorted(names)


class _TorchvisionFallback(logging.Filter):
    """Drops transformers' "`CLIPImageProcessor` requires torchvision (not installed); falling back to ...Pil".

    Why filtered and not installed: Stable Diffusion folders name a CLIPImageProcessor (for the safety
    checker's inputs); without torchvision transformers uses its PIL twin, which is what a text-to-image
    worker wants, so the warning asks every learner to ignore it. torchvision would add a second large
    CUDA-bound wheel to the image for nothing. Any other transformers warning still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


def quiet_torchvision_fallback() -> None:
    """Install the filter once on the logger that raises the warning."""
    target = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _TorchvisionFallback) for f in target.filters):
        target.addFilter(_TorchvisionFallback())


def native_size(pipe) -> tuple[int, int]:
    """(width, height) the pipeline draws when given none: its ``default_sample_size`` (SDXL, SD3, FLUX) or
    its denoiser's ``sample_size`` (SD, PixArt), times ``vae_scale_factor``."""
    sample = getattr(pipe, "default_sample_size", None)
    if sample is None:
        denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
        sample = getattr(getattr(denoiser, "config", None), "sample_size", None) or 64
    h, w = (sample, sample) if isinstance(sample, int) else (sample[0], sample[-1])
    scale = getattr(pipe, "vae_scale_factor", None) or 8
    return int(w * scale), int(h * scale)


def load(model_path: str, device: str = "auto", dtype: str = "auto", variant: str | None = None,
         options: speed.Options | None = None) -> Loaded:
    """The pipeline at ``model_path`` on the chosen device and dtype, from the ``variant``'s weight files
    (local files only), with the speed ``options`` applied (default: none)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_torchvision_fallback()
    import torch
    import transformers
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # bars drawn with \r are noise in a worker's log
    transformers.utils.logging.disable_progress_bar()
    start = time.perf_counter()
    device = choose_device(device)
    dtype = choose_dtype(device, dtype)
    options = options or speed.Options()
    options.check(device, dtype)  # before the slow part: a bad setting fails in a second
    pipe = DiffusionPipeline.from_pretrained(model_path, dtype=getattr(torch, DTYPES[dtype]), local_files_only=True,
                                             variant=variant or None)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    use_sdpa(pipe)
    applied = speed.apply(pipe, options, device, dtype)
    if host_timesteps(getattr(pipe, "scheduler", None)):
        applied.append("host_timesteps")
    attention = sorted({type(p).__name__ for c in pipe.components.values()
                        for p in (getattr(c, "attn_processors", None) or {}).values()})
    width, height = native_size(pipe)
    return Loaded(pipe, device, dtype, attention, time.perf_counter() - start, variant=variant or None,
                  width=width, height=height, options=options, speed=applied)


def seeds_for(seed: int | None, count: int) -> list[int]:
    """Image i gets seed + i, so any image of a batch can be reproduced alone."""
    base = seed if seed is not None else random.randrange(2**32 - count)
    return [base + i for i in range(count)]


class Unsupported(ValueError):
    """The request asks for something this pipeline class does not take."""


def call_arguments(pipe, request, generators) -> dict:
    """The pipeline call's keyword arguments. Pipelines differ (not all take a negative prompt): a field
    the caller set that this pipeline does not take is refused; a default it does not take is left out."""
    params = inspect.signature(pipe.__call__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    wanted = dict(
        prompt=request.prompt, negative_prompt=request.negative_prompt, width=request.width,
        height=request.height, num_inference_steps=request.num_inference_steps,
        guidance_scale=request.guidance_scale, num_images_per_prompt=request.num_images, generator=generators,
    )
    given = {"num_images_per_prompt" if f == "num_images" else f for f in request.model_fields_set}
    accepted = set(wanted) if takes_any else set(params)
    refused = sorted(k for k in wanted if k not in accepted and k in given)
    if refused:
        raise Unsupported(f"{type(pipe).__name__} does not take {', '.join(refused)}: leave "
                          f"{'it' if len(refused) == 1 else 'them'} out of the request")
    return {k: v for k, v in wanted.items() if k in accepted and not (v is None and k not in given)}


def generate(loaded: Loaded, request, on_step: Callable[[int, int], None] | None = None):
    """PIL images for a validated request, with the seed of each; ``on_step(step, steps)`` per step."""
    import torch

    seeds = seeds_for(request.seed, request.num_images)
    generators = [torch.Generator(device=loaded.device).manual_seed(s) for s in seeds]
    kwargs = call_arguments(loaded.pipe, request, generators)
    steps = request.num_inference_steps
    if on_step and "callback_on_step_end" in inspect.signature(loaded.pipe.__call__).parameters:
        def callback(pipe, step, timestep, callback_kwargs):
            on_step(step + 1, steps)
            return callback_kwargs
        kwargs["callback_on_step_end"] = callback
    with torch.inference_mode(), speed.attention_context(loaded.options):
        images = loaded.pipe(**kwargs).images
    return list(zip(images, seeds, strict=True))


def memory() -> dict:
    """Free and total GPU memory in GB (empty on CPU)."""
    import torch

    if not torch.cuda.is_available():
        return {}
    free, total = torch.cuda.mem_get_info()
    return {"vram_free_gb": round(free / 1e9, 2), "vram_total_gb": round(total / 1e9, 2),
            "gpu": torch.cuda.get_device_name()}


def empty_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("runpod", "torch", "diffusers", "transformers", "accelerate", "safetensors"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    import torch

    found["cuda"] = torch.version.cuda
    return found
