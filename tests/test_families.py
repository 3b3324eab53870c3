"""Models a user brings, not only the demo's shape: a tiny SDXL (two text encoders, text_time), an SD saved
only as an fp16 variant, and a PixArt-Sigma (a transformer and a T5 encoder), each as diffusers' own fast
tests build them. Each is analysed exactly (against what torch counts once diffusers loaded it), pushed
to an S3 we did not write (moto) with only the files the analysis names, and served by the worker from
what landed there, with no variant flag: the worker detects it. The worker's default size is the model's."""

from __future__ import annotations

import pytest

from playbook.core.config import worker_on_path
from playbook.core.secrets import Secret
from playbook.storage import volume
from playbook.weights import analyze, vram

FAMILIES = {"sdxl": ("sdxl_model", "StableDiffusionXLPipeline", None, 64),
            "sd_fp16_only": ("fp16_only_model", "StableDiffusionPipeline", "fp16", 64),
            "pixart_sigma": ("pixart_model", "PixArtSigmaPipeline", None, 256)}


@pytest.fixture(params=list(FAMILIES))
def family(request):
    fixture, pipeline_class, variant, side = FAMILIES[request.param]
    return request.param, request.getfixturevalue(fixture), pipeline_class, variant, side


def loaded_counts(path, variant=None, dtype=None) -> dict[str, tuple[int, int]]:
    """(elements, bytes) per component over the state dicts diffusers loads, a tied tensor once (T5's
    input embedding is its shared embedding: one tensor in memory and in the file)."""
    import torch
    from diffusers import DiffusionPipeline

    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    pipe = DiffusionPipeline.from_pretrained(path, local_files_only=True, variant=variant, **kwargs)
    out = {}
    for name, module in pipe.components.items():
        if isinstance(module, torch.nn.Module):
            tensors = {t.data_ptr(): t for t in module.state_dict().values()}.values()
            out[name] = (sum(t.numel() for t in tensors), sum(t.numel() * t.element_size() for t in tensors))
    return out


@pytest.mark.parametrize("dtype", [None, "float16"])
def test_analysis_is_exact_and_finds_the_variant_and_native_size(family, dtype):
    name, path, pipeline_class, variant, side = family
    result = analyze.analyze(path, dtype=dtype)  # no variant given: detected when the folder holds only one
    assert result.variant == variant and result.pipeline_class == pipeline_class
    counted = {c.name: (c.params, c.tensor_bytes(dtype)) for c in result.components if c.files}
    assert counted == loaded_counts(path, variant, dtype)
    assert result.weights_gpu_bytes == sum(b for _, b in counted.values())
    assert (result.native_width, result.native_height) == (result.width, result.height) == (side, side)
    text = [c.name for c in result.components if c.name.startswith("text_encoder") and c.files]
    assert text == (["text_encoder", "text_encoder_2"] if name == "sdxl" else ["text_encoder"])


def test_the_estimate_has_terms_of_the_family(sdxl_model, pixart_model, fp16_only_model):
    sdxl = analyze.analyze(sdxl_model, dtype="float16")
    terms = {t["term"]: t for t in sdxl.vram_terms()}
    # SDXL's pipeline honours the VAE's force_upcast: an fp32 decode, with the VAE's weights cast to fp32
    assert sdxl.estimate.vae_upcast and "VAE weights cast to fp32 for the decode" in terms
    vae = next(c for c in sdxl.components if c.name == "vae")
    assert sdxl.estimate.vae_upcast_weights_gb == round(vae.tensor_bytes("float16") / 1e9, 6)
    assert sdxl.vae_decode_estimate_gb == analyze.analyze(sdxl_model, dtype="float32").vae_decode_estimate_gb
    assert "UNet factor" in terms["UNet activations (batch x2 for guidance)"]["calibration"]
    assert sdxl.estimate.text_encoders == ("text_encoder", "text_encoder_2")
    sd = analyze.analyze(fp16_only_model, dtype="float16")
    assert not sd.estimate.vae_upcast
    assert sd.estimate.denoiser_calibration == vram.CALIBRATED
    assert sd.vae_decode_estimate_gb == pytest.approx(
        analyze.analyze(fp16_only_model, dtype="float32").vae_decode_estimate_gb / 2, rel=1e-2)
    pixart = analyze.analyze(pixart_model, dtype="float16")
    assert pixart.estimate.denoiser == "transformer"
    assert pixart.estimate.denoiser_calibration == vram.UNCALIBRATED
    # tokens = (256 / 8 / patch 2)^2 = 256, hidden = 3 heads x 8, x2 for guidance, fp16
    assert pixart.unet_activation_estimate_gb == pytest.approx(
        round(2 * 256 * 24 * 2 * vram.TRANSFORMER_ACTIVATION_FACTOR / 1e9, 4))
    big = analyze.analyze(pixart_model, dtype="float16", width=512, height=512)
    assert big.vae_decode_estimate_gb == pytest.approx(4 * pixart.vae_decode_estimate_gb, rel=1e-2)


def test_a_real_sdxl_shape_with_an_fp32_decode_no_longer_fits_16_gb():
    """SDXL-base's published shape (UNet 2.57 B, CLIP-L + bigG, VAE 83.7 M parameters at fp16): the
    fp32 decode at its native 1024 px is the peak term."""
    from benchmarks.bench_estimates import estimate_of

    sdxl = estimate_of("sdxl-base")
    assert (sdxl.width, sdxl.height) == (1024, 1024) and sdxl.estimate.vae_upcast
    assert 13 < sdxl.vram_gb < 15
    assert "AMPERE_16" not in [p.pool_id for p in sdxl.fitting_pools()]
    sd15 = estimate_of("sd-1.5")
    assert (sd15.width, sd15.height) == (512, 512) and not sd15.estimate.vae_upcast
    assert sd15.vram_gb < 4


def _download(loc, dest: str, to):
    s3 = loc.client()
    for obj in volume.ls(loc, dest + "/"):
        target = to / obj.key.removeprefix(dest + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=loc.volume_id, Key=obj.key)["Body"].read())
    return to


@pytest.fixture(scope="module")
def moto_loc():
    import boto3
    from s3_helpers import moto_server

    with moto_server() as url:
        boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="user_x",
                     aws_secret_access_key="rps_y").create_bucket(Bucket="vol-families")
        yield volume.VolumeLocation(url, "EU-RO-1", "vol-families", Secret("user_x"), Secret("rps_y"))


@pytest.mark.slow
def test_push_what_the_worker_loads_then_serve_it_at_the_native_size(family, moto_loc, tmp_path, capsys):
    name, path, pipeline_class, variant, side = family
    include = analyze.analyze(path).upload_files()
    pushed = volume.push(path, moto_loc, f"models/{name}", include=include, progress=False)
    assert pushed.files == len(include)
    assert volume.verify(moto_loc, f"models/{name}", hashes=True).ok
    landed = _download(moto_loc, f"models/{name}", tmp_path / name)
    worker_on_path()
    from imagegen import service

    worker = service.Worker.start(service.WorkerSettings(str(landed), warm_up=False))  # no MODEL_VARIANT
    assert worker.problem is None, worker.problem
    logged = capsys.readouterr().out  # the worker says what it serves
    assert f"serving {pipeline_class} from {landed}: variant {variant or '(plain files)'}, fp32 on cpu, " \
           f"default size {side}x{side}" in logged
    assert worker.loaded.variant == variant and (worker.loaded.width, worker.loaded.height) == (side, side)
    result = worker.handle({"id": "j", "input": {"prompt": "a lighthouse", "num_inference_steps": 2, "seed": 3}})
    assert "error" not in result, result
    assert (result["width"], result["height"]) == (side, side)
    health = worker.handle({"input": {"action": "health_check"}})
    assert health["pipeline"] == pipeline_class and health["variant"] == variant
    assert health["default_size"] == f"{side}x{side}"


def test_cli_analyze_names_the_variant_and_exits_1_without_weights(fp16_only_model, tmp_path, capsys):
    from playbook.cli import main

    assert main(["analyze", str(fp16_only_model)]) == 0
    out = capsys.readouterr().out
    assert "fp16: text_encoder, unet, vae" in out and "variant" in out and " fp16\n" in out
    assert main(["analyze", str(fp16_only_model), "--variant", "bf16"]) == 1
    assert "no 'bf16' weight files (it holds fp16: text_encoder, unet, vae)" in capsys.readouterr().err
    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "model_index.json").write_text((fp16_only_model / "model_index.json").read_text())
    assert main(["analyze", str(empty)]) == 1
    assert "no weights to analyse" in capsys.readouterr().err


def test_the_worker_fitness_check_knows_variants(fp16_only_model, tmp_path):
    import shutil

    worker_on_path()
    from imagegen import fitness, service

    assert fitness.model_problems(fp16_only_model) == []  # detected: the folder's only variant
    assert fitness.choose_variant(fp16_only_model) == "fp16"
    [problem] = fitness.model_problems(fp16_only_model, "bf16")
    assert "MODEL_VARIANT=bf16 but" in problem
    assert "(fp16: text_encoder, unet, vae): set MODEL_VARIANT to fp16" in problem
    worker = service.Worker.start(service.WorkerSettings(str(fp16_only_model), warm_up=False, variant="bf16"))
    assert worker.loaded is None and "set MODEL_VARIANT to fp16" in worker.problem
    two = tmp_path / "two"
    shutil.copytree(fp16_only_model, two)
    for f in list(two.rglob("*.fp16.safetensors")):
        shutil.copy(f, f.with_name(f.name.replace(".fp16.", ".bf16.")))
    [problem] = fitness.model_problems(two)
    assert "several variants (bf16: text_encoder, unet, vae; fp16: text_encoder, unet, vae)" in problem
    assert "set MODEL_VARIANT to one of bf16, fp16" in problem
    assert fitness.model_problems(two, "bf16") == []


def test_spec_and_bake_tell_the_worker_the_variant(fp16_only_model):
    from playbook.core.errors import ConfigError
    from playbook.deploy.spec import spec_from_dict
    from playbook.image import bake

    base = {"name": "ep", "image": "img:1", "gpus": ["ADA_24"],
            "volume": {"name": "v", "size_gb": 10, "data_center": "EU-RO-1"}}
    spec = spec_from_dict({**base, "model": {"source": str(fp16_only_model), "variant": "fp16"}})
    assert spec.resolved_env()["MODEL_VARIANT"] == "fp16"
    assert "MODEL_VARIANT" not in spec_from_dict({**base, "model": {"source": str(fp16_only_model)}}).resolved_env()
    with pytest.raises(ConfigError, match=r"env.MODEL_VARIANT \('bf16'\) disagrees with \[model\] variant"):
        spec_from_dict({**base, "env": {"MODEL_VARIANT": "bf16"},
                        "model": {"source": str(fp16_only_model), "variant": "fp16"}})
    include = analyze.analyze(fp16_only_model).upload_files()
    context, _ = bake._context(fp16_only_model, include, "m", "base:1", "fp16")
    import tarfile

    with tarfile.open(fileobj=context) as tar:
        dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert "ENV MODEL_PATH=/models/m\nENV MODEL_VARIANT=fp16\n" in dockerfile


def _component(name: str, class_name: str, params: int, config: dict, library: str = "diffusers"):
    files = [analyze.WeightFile(f"{name}/w.safetensors", params * 2, {"F16": params})]
    return analyze.Component(name, library, class_name, files, config)


@pytest.mark.parametrize("kind", ["sd3", "flux"])
def test_joint_attention_transformers_count_text_tokens_patches_and_guidance(kind):
    """SD3 and FLUX shapes (their published configs' keys): a transformer over 2x2 latent patches whose joint
    attention carries the text tokens too; FLUX is guidance-distilled (one pass per step) and packs 2x2 latents
    into one token with patch_size 1; both default to 1024 px."""
    vae = _component("vae", "AutoencoderKL", 83_819_683, {"block_out_channels": [128, 256, 512, 512],
                                                           "latent_channels": 16})
    if kind == "sd3":
        den = _component("transformer", "SD3Transformer2DModel", 2_028_328_000, {
            "sample_size": 128, "patch_size": 2, "num_attention_heads": 24, "attention_head_dim": 64,
            "joint_attention_dim": 4096})
        pipeline, guidance = "StableDiffusion3Pipeline", 2
    else:
        den = _component("transformer", "FluxTransformer2DModel", 11_901_408_320, {
            "patch_size": 1, "in_channels": 64, "num_attention_heads": 24, "attention_head_dim": 128,
            "joint_attention_dim": 4096, "guidance_embeds": True})
        pipeline, guidance = "FluxPipeline", 1
    t5 = _component("text_encoder_2", "T5EncoderModel", 4_762_310_656, {"d_model": 4096, "d_ff": 10240},
                    "transformers")
    components = {c.name: c for c in (vae, den, t5)}
    assert vram.native_size(components, pipeline) == (1024, 1024)
    est = vram.estimate(components, pipeline, 1024, 1024, 1, 2, "float16")
    tokens = (1024 // 8 // 2) ** 2 + vram.JOINT_TEXT_TOKENS
    hidden = den.config["num_attention_heads"] * den.config["attention_head_dim"]
    assert est.denoiser == "transformer" and est.denoiser_calibration == vram.UNCALIBRATED
    assert est.denoiser_gb == round(guidance * tokens * hidden * 2 * vram.TRANSFORMER_ACTIVATION_FACTOR / 1e9, 4)
    assert not est.vae_upcast and est.text_encoders == ("text_encoder_2",)
    # T5 at its 512 tokens: hidden + the widest (d_ff) per token, guidance x2, fp16
    assert est.text_encoders_gb == round(2 * 512 * (4096 + 10240) * 2 * vram.TEXT_ENCODER_ACTIVATION_FACTOR / 2 / 1e9,
                                         4)


def test_the_doctor_reads_diffusers_own_variant_errors_as_missing_model_files():
    from playbook.doctor import checks, rules
    from playbook.doctor.observe import Observation

    # the worker's load failure around what diffusers raises when the plain files are absent from an fp16-only
    # folder, and when the variant asked for is absent (seen in this repository's probes with diffusers 0.42)
    for raised in ("OSError: Error no file named model.safetensors, or pytorch_model.bin, found in directory "
                   "/runpod-volume/models/m/text_encoder.",
                   "ValueError: You are trying to load the model files of the `variant=bf16`, but no such modeling "
                   "files are available."):
        line = ("could not load the pipeline at MODEL_PATH=/runpod-volume/models/m (variant none: the plain files; "
                f"MODEL_VARIANT sets it): {raised}")
        obs = Observation("ep", {"id": "ep", "workers": {"max": 1}}, log=[{"ts": None, "source": "container",
                                                                           "line": line}])
        verdict, evidence = checks.decide(obs)
        assert verdict == "models_missing", (verdict, evidence)
        assert any("/runpod-volume/models/m" in e for e in evidence)
    assert "MODEL_VARIANT" in rules.VERDICTS["models_missing"][1]
