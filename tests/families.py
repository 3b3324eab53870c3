"""Tiny random-weight pipelines of other families, built as diffusers' own fast tests build them
(``tests/pipelines/stable_diffusion_xl`` and ``pixart_sigma`` get_dummy_components), with tokenizers
written offline: an SDXL (two CLIP text encoders, ``addition_embed_type="text_time"``), an SD saved only
as an fp16 variant (``save_pretrained(variant="fp16")``, the Hub's common layout) and a PixArt-Sigma
(a transformer instead of a UNet, a T5 encoder). Each is saved with ``save_pretrained`` into a folder."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playbook.weights import demo_model

SEED = 0


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        return CLIPTokenizer.from_pretrained(demo_model.write_tokenizer_files(Path(tmp)), model_max_length=77)


def _t5_tokenizer():
    from transformers import T5Tokenizer

    pieces = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789▁,.-'"
    return T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in pieces],
                       extra_ids=0)


def sdxl_pipeline():
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = _clip_tokenizer()
    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(
        block_out_channels=(2, 4), layers_per_block=2, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=1)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear", timestep_spacing="leading")
    torch.manual_seed(SEED)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, sample_size=128)
    config = CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                            hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05, num_attention_heads=4,
                            num_hidden_layers=5, pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer),
                            hidden_act="gelu", projection_dim=32, max_position_embeddings=77)
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(config)
    text_encoder_2 = CLIPTextModelWithProjection(config)
    return StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                     text_encoder_2=text_encoder_2, tokenizer_2=tokenizer, unet=unet,
                                     scheduler=scheduler)


def pixart_sigma_pipeline():
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel
    from transformers import T5Config, T5EncoderModel

    tokenizer = _t5_tokenizer()
    torch.manual_seed(SEED)
    # sample_size 32: the smallest size PixArt's resolution binning knows (256 px)
    transformer = PixArtTransformer2DModel(
        sample_size=32, num_layers=2, patch_size=2, attention_head_dim=8, num_attention_heads=3,
        caption_channels=32, in_channels=4, cross_attention_dim=24, out_channels=8, attention_bias=True,
        activation_fn="gelu-approximate", num_embeds_ada_norm=1000, norm_type="ada_norm_single",
        norm_elementwise_affine=False, norm_eps=1e-6)
    torch.manual_seed(SEED)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=4, sample_size=64)
    torch.manual_seed(SEED)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=37, d_kv=8, num_heads=4,
                                           num_layers=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    return PixArtSigmaPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                               scheduler=DDIMScheduler())


def save(pipe, path: Path, **kwargs) -> Path:
    pipe.save_pretrained(path, safe_serialization=True, **kwargs)
    demo_model.make_world_readable(path)
    return path


def make_sdxl(path: Path) -> Path:
    return save(sdxl_pipeline(), path)


def make_pixart_sigma(path: Path) -> Path:
    return save(pixart_sigma_pipeline(), path)


def make_fp16_variant_only(path: Path) -> Path:
    """The demo SD pipeline saved as ``save_pretrained(variant="fp16")`` alone: no plain weight files."""
    import torch

    pipe = demo_model.build_pipeline("tiny").to(torch.float16)
    save(pipe, path, variant="fp16")
    demo_model.write_tokenizer_files(path / "tokenizer")
    return path
