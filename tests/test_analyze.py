"""Model analysis from safetensors headers: exact against the loaded tensors, variant selection as diffusers
does it, clear errors for broken files, and the sizing rules (volume, VRAM terms, pools, placements)."""

from __future__ import annotations

import json
import shutil

import pytest

from playbook.core.errors import ConfigError
from playbook.weights import analyze, demo_model, placement


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return demo_model.make_demo_model(tmp_path_factory.mktemp("analyze") / "tiny")


@pytest.fixture(scope="module")
def tiny_fp16(tmp_path_factory):
    """The tiny model with an fp16 variant saved beside the fp32 files, as on the Hub."""
    import torch
    from diffusers import StableDiffusionPipeline

    path = demo_model.make_demo_model(tmp_path_factory.mktemp("analyze16") / "tiny")
    pipe = StableDiffusionPipeline.from_pretrained(path, local_files_only=True)
    pipe.to(torch.float16).save_pretrained(path, variant="fp16")
    return path


def loaded_sums(path, **kwargs) -> dict[str, tuple[int, int]]:
    """(elements, bytes) per component over the loaded modules' state dicts."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(path, local_files_only=True, **kwargs)
    out = {}
    for name, module in pipe.components.items():
        if isinstance(module, torch.nn.Module):
            tensors = module.state_dict().values()
            out[name] = (sum(t.numel() for t in tensors), sum(t.numel() * t.element_size() for t in tensors))
    return out


def analyzed_sums(result: analyze.Analysis) -> dict[str, tuple[int, int]]:
    return {c.name: (c.params, c.tensor_bytes(result.dtype)) for c in result.components if c.files}


@pytest.mark.parametrize("dtype", [None, "bfloat16"])
def test_header_sums_equal_the_loaded_tensors_of_the_tiny_model(tiny, dtype):
    import torch

    result = analyze.analyze(tiny, dtype=dtype)
    kwargs = {"dtype": getattr(torch, dtype)} if dtype else {}
    assert analyzed_sums(result) == loaded_sums(tiny, **kwargs)
    assert result.weights_gpu_bytes == sum(b for _, b in loaded_sums(tiny, **kwargs).values())
    assert {c.name for c in result.components if c.files} == {"unet", "vae", "text_encoder"}


@pytest.mark.slow
def test_header_sums_equal_the_loaded_tensors_of_the_medium_model(tmp_path):
    path = demo_model.make_demo_model(tmp_path / "medium", size="medium")
    result = analyze.analyze(path)
    assert analyzed_sums(result) == loaded_sums(path)
    assert result.weights_disk_bytes > 200e6


def test_the_fp16_variant_is_chosen_when_present_as_diffusers_loads_it(tiny_fp16):
    plain = analyze.analyze(tiny_fp16)
    fp16 = analyze.analyze(tiny_fp16, variant="fp16")
    assert all(".fp16." in f for f in fp16.files()) and not any(".fp16." in f for f in plain.files())
    assert {d for c in fp16.components for d in c.params_by_dtype} == {"F16"}
    assert fp16.params == plain.params and fp16.weights_disk_bytes < plain.weights_disk_bytes
    assert analyzed_sums(fp16) == loaded_sums(tiny_fp16, variant="fp16")
    assert plain.variant is None and fp16.variant == "fp16"  # both sets held: plain unless asked
    assert plain.variants == {"": ["text_encoder", "unet", "vae"], "fp16": ["text_encoder", "unet", "vae"]}


def test_an_absent_variant_is_refused_naming_what_the_folder_holds(tiny_fp16):
    from diffusers import StableDiffusionPipeline

    with pytest.raises(ValueError, match="variant=bf16"):  # diffusers refuses it too
        StableDiffusionPipeline.from_pretrained(tiny_fp16, local_files_only=True, variant="bf16")
    with pytest.raises(ConfigError, match=r"no 'bf16' weight files \(it holds plain files: .*; fp16: .*\): set "
                                          r"variant .*MODEL_VARIANT\) to 'fp16', or leave it unset"):
        analyze.analyze(tiny_fp16, variant="bf16")


def test_a_folder_without_weights_is_refused_never_reported_as_zero(tiny, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(tiny, path)
    for f in path.rglob("*.safetensors"):
        f.unlink()
    with pytest.raises(ConfigError, match=r"no weights to analyse \(it holds no weight files"):
        analyze.analyze(path)


def test_several_variants_and_no_plain_set_ask_for_one(tiny_fp16, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(tiny_fp16, path)
    for f in list(path.rglob("*.fp16.safetensors")):
        shutil.copy(f, f.with_name(f.name.replace(".fp16.", ".bf16.")))
    for f in path.rglob("*.safetensors"):
        if f.name.count(".") == 1:
            f.unlink()
    with pytest.raises(ConfigError, match=r"several variants \(bf16: .*; fp16: .*\): choose one with variant"):
        analyze.analyze(path)
    assert analyze.analyze(path, variant="bf16").variant == "bf16"


def test_sharded_weights_are_read_through_their_index(tiny, tmp_path):
    from diffusers import UNet2DConditionModel

    path = tmp_path / "sharded"
    shutil.copytree(tiny, path)
    unet = UNet2DConditionModel.from_pretrained(path / "unet")
    shutil.rmtree(path / "unet")
    unet.save_pretrained(path / "unet", max_shard_size="100KB")
    shards = analyze.analyze(path).components
    [u] = [c for c in shards if c.name == "unet"]
    assert len(u.files) > 1
    assert analyzed_sums(analyze.analyze(path)) == loaded_sums(path)


def test_a_truncated_file_is_named(tiny, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(tiny, path)
    weights = path / "vae" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ConfigError, match=r"vae/diffusion_pytorch_model\.safetensors is truncated: .* its header needs "
                                          r"\d+\. Re-download or re-copy it"):
        analyze.analyze(path)


EMPTY_SAFETENSORS = b"\x02" + b"\x00" * 7 + b"{}"


@pytest.mark.parametrize("content", [b"", b"hello", EMPTY_SAFETENSORS, b"PK\x03\x04 this is a zip file......"])
def test_a_file_that_is_not_safetensors_is_named(tiny, tmp_path, content):
    path = tmp_path / "m"
    shutil.copytree(tiny, path)
    (path / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(content)
    if content == EMPTY_SAFETENSORS:  # a valid empty safetensors file: zero tensors, not an error
        assert analyze.analyze(path).components[0] is not None
        return
    named = r"unet/diffusion_pytorch_model\.safetensors is truncated(: \d+ bytes, too short| or not safetensors)"
    with pytest.raises(ConfigError, match=named + ".* Re-download or re-save it"):
        analyze.analyze(path)


def test_bad_inputs_name_the_field(tiny, tmp_path):
    with pytest.raises(ConfigError, match="no model_index.json"):
        analyze.analyze(tmp_path)
    with pytest.raises(ConfigError, match="dtype must be one of"):
        analyze.analyze(tiny, dtype="float8")
    with pytest.raises(ConfigError, match="width must be a positive"):
        analyze.analyze(tiny, width=-8)


def test_sizes_vram_terms_and_pools(tiny):
    small = analyze.analyze(tiny, dtype="float16", width=512, height=512)
    big = analyze.analyze(tiny, dtype="float16", width=1024, height=1024, batch=2)
    assert small.volume_gb == 10  # the floor: max(10, ceil(1.2 x bytes))
    assert small.bytes_to_upload == small.weights_disk_bytes + small.other_files_bytes
    assert big.vae_decode_estimate_gb == pytest.approx(8 * small.vae_decode_estimate_gb, rel=1e-3)
    assert big.vram_gb > small.vram_gb
    kinds = {t["term"]: t["kind"] for t in small.vram_terms()}
    assert kinds["weights at load dtype"] == "exact" and list(kinds.values()).count("estimate") == 5
    assert [t for t in kinds if t.startswith("weights: ")] == [
        "weights: text_encoder (CLIPTextModel)", "weights: unet (UNet2DConditionModel)", "weights: vae (AutoencoderKL)"]
    native = analyze.analyze(tiny)  # the demo's UNet sample_size 8 x VAE scale 8
    assert (native.width, native.height) == (native.native_width, native.native_height) == (64, 64)
    assert all(p.vram_gb >= small.vram_gb * 1.2 for p in small.fitting_pools())
    data = json.loads(json.dumps(small.to_dict()))
    assert data["params"] == small.params and isinstance(data["bytes_to_upload"], int)
    assert "<table>" in small._repr_html_()


@pytest.mark.parametrize(("weights", "others", "volume_gb", "bake_disk_gb"), [
    (0, 0, 10, 10),  # nothing: the 10 GB floor
    (7_900_000_000, 100_000_000, 10, 20),  # 8 GB x 1.2 = 9.6 -> the floor
    (8_300_000_000, 100_000_000, 11, 21),  # 8.4 GB x 1.2 = 10.08 -> 11
    (19_000_000_000, 1_000_000_000, 24, 34),  # 20 GB x 1.2 = 24 exactly -> 24
    (19_000_000_001, 1_000_000_000, 25, 35),  # one byte more -> 25
    (100_000_000_000, 0, 120, 130),
])
def test_volume_and_bake_disk_are_1_2_x_what_is_uploaded_rounded_up(weights, others, volume_gb, bake_disk_gb):
    """The sizes ``Analysis`` computes from its bytes (weights + configs), against hand-worked figures:
    max(10, ceil(1.2 x GB)) for the volume, 10 GB + ceil(1.2 x GB) for a baked image's container disk."""
    files = [analyze.WeightFile("unet/diffusion_pytorch_model.safetensors", weights, {"F16": weights // 2})]
    model = analyze.Analysis("model", None, "float16", 512, 512, 1,
                             [analyze.Component("unet", "diffusers", "UNet2DConditionModel", files)],
                             other_files_bytes=others, weights_gpu_bytes=weights, unet_activation_estimate_gb=0.0,
                             vae_decode_estimate_gb=0.0)
    assert model.bytes_to_upload == weights + others
    assert model.volume_gb == volume_gb
    assert model.container_disk_gb["bake"] == bake_disk_gb


def test_placement_table_bills_only_what_runpod_bills():
    table = placement.placement_table(3_000_000_000, volume_gb=10)
    rows = {r.placement: r for r in table.rows}
    assert rows[placement.VOLUME].unbilled_s == 0 and rows[placement.VOLUME].billed_s == 10.0  # 3 GB / 300 MB/s
    assert rows[placement.VOLUME].standing_usd_per_month == 0.7
    assert rows[placement.BAKE].unbilled_s == 20.0 and rows[placement.BAKE].billed_s == 3.0
    assert rows[placement.CACHED].standing_usd_per_month == 0 and "GraphQL" in rows[placement.CACHED].limits
    assert rows[placement.DOWNLOAD].unbilled_s == 0 and rows[placement.DOWNLOAD].billed_s == 33.0
    assert table.recommended == placement.BAKE
    assert placement.placement_table(3e9, hf_repo="org/model").recommended == placement.CACHED
    assert placement.placement_table(40e9, volume_gb=48).recommended == placement.VOLUME
    slow = placement.placement_table(3e9, volume_read_mb_s=150)
    assert {r.placement: r for r in slow.rows}[placement.VOLUME].billed_s == 20.0
    assert "recommended" in table._repr_html_()
