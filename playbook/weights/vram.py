"""What an inference holds in VRAM besides its weights, per pipeline family, and the model's native size.

Why: the weights are exact (from the headers), but the pool a model needs is decided by its peak, and
the peak depends on the family: a UNet (Stable Diffusion 1.x/2.x, SDXL) or a transformer over latent
patches (SD3, FLUX, PixArt), the VAE decode at full resolution (in fp32 when the pipeline honours the
VAE's ``force_upcast``, as SDXL's does), and the text encoders (CLIP, T5) that run before the denoiser.

How: ``estimate(components, pipeline_class, width, height, batch, act_bytes, dtype)`` with the analysis'
components (each with its ``config.json``); ``native_size(components, pipeline_class)`` is the size a
pipeline draws when asked for none (``sample_size x vae_scale_factor``, what diffusers' pipelines use).

Which terms are measured: the UNet and VAE-decode factors and the CUDA context were calibrated on an H200
(``benchmarks/gpu_check.py --terms``, ``benchmarks/baselines/gpu_check_h200.txt``: an SD-1.5-shaped
pipeline, SDPA attention, fp16 and fp32, 512-1024 px, batch 1-4): the largest factors measured were 26.6
(UNet) and 9.5 (VAE decode), the context 0.74 GB, kept about 20 % above. The same factors on an SDXL
UNet (``addition_embed_type``), the transformer term and the text-encoder term are not yet measured on a
GPU; each term says which it is (``calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Calibrated on an H200 (see the module docstring): live tensors of the widest feature map a UNet step /
# a VAE decode keeps at its peak, and the CUDA context + cuBLAS/cuDNN workspaces. Never lower these
# below the measured 26.6 / 9.5 / 0.74.
CUDA_CONTEXT_GB = 0.75
UNET_ACTIVATION_FACTOR = 32
VAE_ACTIVATION_FACTOR = 12
# Not yet measured on a GPU: hidden-size tensors live in one transformer block at its peak (the residual
# stream, its norm, q, k, v, the attention output and the MLP's 4x intermediate: about 11, kept ~45 %
# above), and in one text-encoder layer.
TRANSFORMER_ACTIVATION_FACTOR = 16
TEXT_ENCODER_ACTIVATION_FACTOR = 16
JOINT_TEXT_TOKENS = 512  # text tokens a joint-attention transformer (SD3, FLUX) carries beside the image's
T5_TOKENS = 512  # sequence length a T5 encoder is given at most (FLUX: 512, SD3: 256, PixArt-Sigma: 300)
CLIP_TOKENS = 77

CALIBRATED = "GPU-calibrated (SD-1.5 shape, H200: benchmarks/baselines/gpu_check_h200.txt)"
UNCALIBRATED = "not yet measured on a GPU"
EXACT = "exact"


@dataclass(frozen=True)
class Estimate:
    """The activation terms of one analysis (GB) and what they rest on."""

    denoiser: str  # "unet", "transformer" or "none"
    denoiser_gb: float
    denoiser_calibration: str
    vae_decode_gb: float
    vae_upcast: bool  # the VAE decodes in fp32 (force_upcast honoured, fp16 load)
    vae_upcast_weights_gb: float  # the VAE's weights cast fp16 -> fp32 for the decode (exact)
    text_encoders_gb: float
    text_encoders: tuple[str, ...]


def vae_scale_factor(components: dict) -> int:
    """2 ** (VAE blocks - 1), diffusers' own rule (8 for Stable Diffusion, SDXL, SD3, FLUX, PixArt)."""
    vae = components.get("vae")
    channels = (vae.config.get("block_out_channels") if vae else None) or [128, 256, 512, 512]
    return 2 ** (len(channels) - 1)


def denoiser_of(components: dict):
    return components.get("unet") or components.get("transformer") or components.get("prior")


def native_size(components: dict, pipeline_class: str = "") -> tuple[int, int]:
    """(width, height) the pipeline draws when asked for none: the denoiser's ``sample_size`` (FLUX: 128,
    its pipeline's default) times the VAE scale factor."""
    den = denoiser_of(components)
    sample = den.config.get("sample_size") if den else None
    if sample is None:
        sample = 128 if "Flux" in pipeline_class or (den and "Flux" in den.class_name) else 64
    h, w = (sample, sample) if isinstance(sample, int) else (sample[0], sample[-1])
    scale = vae_scale_factor(components)
    return w * scale, h * scale


def honours_force_upcast(pipeline_class: str) -> bool:
    """SDXL's pipelines (and their ControlNet, inpaint, img2img siblings) decode in fp32 when the VAE's
    config says ``force_upcast`` (diffusers' default when the key is absent); SD 1.x/2.x, SD3, FLUX and
    PixArt pipelines do not read it."""
    return "XL" in pipeline_class


def estimate(components: dict, pipeline_class: str, width: int, height: int, batch: int, act_bytes: int,
             dtype: str | None) -> Estimate:
    vae = components.get("vae")
    upcast = bool(vae and honours_force_upcast(pipeline_class) and dtype in ("float16", "fp16")
                  and vae.config.get("force_upcast", True))
    vae_channels = ((vae.config.get("block_out_channels") if vae else None) or [128])[0]
    vae_bytes = 4 if upcast else act_bytes
    vae_gb = batch * width * height * vae_channels * vae_bytes * VAE_ACTIVATION_FACTOR / 1e9
    upcast_gb = (vae.tensor_bytes("float32") - vae.tensor_bytes(dtype)) / 1e9 if upcast else 0.0
    kind, den_gb, calibration = _denoiser(components, pipeline_class, width, height, batch, act_bytes)
    text = [c for c in components.values() if c.name.startswith("text_encoder") and c.files]
    text_gb = max((_text_encoder_gb(c, batch, act_bytes) for c in text), default=0.0)
    return Estimate(kind, round(den_gb, 4), calibration, round(vae_gb, 4), upcast, round(upcast_gb, 6),
                    round(text_gb, 4), tuple(c.name for c in text))


def _denoiser(components: dict, pipeline_class: str, width: int, height: int, batch: int,
              act_bytes: int) -> tuple[str, float, str]:
    den = denoiser_of(components)
    scale = vae_scale_factor(components)
    if den is None:
        return "none", 0.0, UNCALIBRATED
    cfg = den.config
    if "block_out_channels" in cfg or den.name == "unet":  # a UNet: its widest feature map at latent size
        channels = (cfg.get("block_out_channels") or [320])[0]
        gb = batch * 2 * (width // scale) * (height // scale) * channels * act_bytes * UNET_ACTIVATION_FACTOR / 1e9
        sd15_shaped = not cfg.get("addition_embed_type") and not cfg.get("encoder_hid_dim")
        return "unet", gb, CALIBRATED if sd15_shaped else (
            f"UNet factor {CALIBRATED.split(' (')[0]} on SD 1.5; this UNet ({cfg.get('addition_embed_type')}) "
            f"is {UNCALIBRATED}")
    # a transformer over latent patches: tokens x hidden size; joint attention (SD3, FLUX) adds text tokens
    patch = cfg.get("patch_size") or 1
    if "Flux" in den.class_name:
        patch = 2  # FLUX packs 2x2 latents into one token
    tokens = (width // scale // patch) * (height // scale // patch)
    if cfg.get("joint_attention_dim"):
        tokens += JOINT_TEXT_TOKENS
    hidden = (cfg.get("num_attention_heads") or 16) * (cfg.get("attention_head_dim") or 72)
    guidance = 1 if cfg.get("guidance_embeds") else 2  # FLUX is guidance-distilled: one pass per step
    gb = batch * guidance * tokens * hidden * act_bytes * TRANSFORMER_ACTIVATION_FACTOR / 1e9
    return "transformer", gb, UNCALIBRATED


def _text_encoder_gb(component, batch: int, act_bytes: int) -> float:
    cfg = component.config.get("text_config", component.config)
    hidden = cfg.get("hidden_size") or cfg.get("d_model") or 768
    wide = max(hidden, cfg.get("intermediate_size") or cfg.get("d_ff") or 0)
    tokens = T5_TOKENS if ("T5" in component.class_name or "d_model" in cfg) else (
        cfg.get("max_position_embeddings") or CLIP_TOKENS)
    return batch * 2 * tokens * (hidden + wide) * act_bytes * TEXT_ENCODER_ACTIVATION_FACTOR / 2 / 1e9
