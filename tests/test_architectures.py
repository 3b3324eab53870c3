"""Real pipelines counted on the meta device from their published configs (playbook.weights.architectures):
the counts agree with the figures their authors published, and with the safetensors headers of saved models."""

from __future__ import annotations

import pytest

from playbook.weights import analyze, architectures, demo_model
from playbook.weights.placement import BAKE, BAKE_LIMIT_GB, VOLUME, placement_table

SD15, SDXL, FLUX = architectures.ARCHITECTURES


@pytest.fixture(scope="module")
def analysed():
    return {arch.key: analysis for arch, analysis in architectures.analyze_all()}


def params(analysis, *names) -> int:
    return sum(c.params for c in analysis.components if c.name in names)


def test_the_counts_match_the_published_figures(analysed):
    sd15, sdxl, flux = analysed[SD15.key], analysed[SDXL.key], analysed[FLUX.key]
    # Stable Diffusion v1 model card: "an 860M UNet and 123M text encoder"
    assert round(params(sd15, "unet") / 1e6) == 860 and round(params(sd15, "text_encoder") / 1e6) == 123
    # SDXL report (Podell et al. 2023, table 1): UNet 2.6B parameters, text encoders 817M in total
    assert round(params(sdxl, "unet") / 1e9, 1) == 2.6
    assert abs(params(sdxl, "text_encoder", "text_encoder_2") - 817e6) < 1e6
    # Black Forest Labs: FLUX.1 [dev] is "a 12 billion parameter rectified flow transformer"
    assert round(params(flux, "transformer") / 1e9) == 12
    # T5 v1.1 XXL's encoder (FLUX.1 [dev]'s text_encoder_2: two bf16 shards of 4.99 and 4.53 GB): 4.76B parameters
    assert round(params(flux, "text_encoder_2") / 1e9, 2) == 4.76
    t5 = next(c for c in flux.components if c.name == "text_encoder_2")
    assert round(t5.disk_bytes / 1e9, 2) == round(4.99 + 4.53, 2)


def test_the_bytes_match_the_published_weight_files(analysed):
    """Tensor bytes at the published dtype against the files' sizes on the Hub (each file adds a header of some
    hundred KB): unet/diffusion_pytorch_model.fp16.safetensors 1.72 GB (SD 1.5) and 5.14 GB (SDXL), FLUX.1 [dev]'s
    transformer shards 23.8 GB in bf16."""
    by_name = {key: {c.name: c for c in a.components} for key, a in analysed.items()}
    assert by_name[SD15.key]["unet"].disk_bytes / 1e9 == pytest.approx(1.72, abs=0.01)
    assert by_name[SDXL.key]["unet"].disk_bytes / 1e9 == pytest.approx(5.14, abs=0.01)
    assert by_name[FLUX.key]["transformer"].disk_bytes / 1e9 == pytest.approx(23.8, abs=0.05)
    flux = by_name[FLUX.key]["transformer"]
    assert flux.params_by_dtype == {"BF16": flux.params} and flux.disk_bytes == 2 * flux.params


@pytest.mark.parametrize("family", ["demo", "sdxl", "pixart"])
def test_meta_counts_equal_the_headers_of_a_saved_pipeline(family, tmp_path, request):
    """The same configs counted two ways: built on the meta device, and read back from the safetensors files
    save_pretrained wrote (the T5 of PixArt, the two CLIP encoders of SDXL, the SD demo)."""
    folder = {"demo": lambda: demo_model.make_demo_model(tmp_path / "tiny-sd"),
              "sdxl": lambda: request.getfixturevalue("sdxl_model"),
              "pixart": lambda: request.getfixturevalue("pixart_model")}[family]()
    headers = analyze.analyze(folder, dtype="float16")
    meta = architectures.analyze_folder_configs(folder, "F32", dtype="float16")
    assert {c.name: c.params_by_dtype for c in meta.components if c.files} == {
        c.name: c.params_by_dtype for c in headers.components if c.files}
    assert meta.weights_gpu_bytes == headers.weights_gpu_bytes and meta.vram_gb == headers.vram_gb


def test_the_placements_follow_the_sizes(analysed):
    rows = architectures.comparison([(a.title, analysed[a.key]) for a in architectures.ARCHITECTURES])
    by_model = {r["model"]: r for r in rows}
    assert by_model[SD15.title]["recommended"] == BAKE and by_model[SDXL.title]["recommended"] == BAKE
    assert by_model[FLUX.title]["recommended"] == VOLUME and analysed[FLUX.key].bytes_to_upload / 1e9 > BAKE_LIMIT_GB
    assert by_model[FLUX.title]["volume_gb"] == 41  # ceil(1.2 x 33.74 GB)
    placements = architectures.placement_rows([(FLUX.title, analysed[FLUX.key])])
    assert [r["placement"] for r in placements if r["recommended"]] == [VOLUME]
    assert all(r["billed_s"] > 10 for r in placements)  # every placement of 34 GB reads for tens of seconds


def test_a_component_that_is_not_diffusers_or_transformers_is_refused():
    from playbook.core.errors import ConfigError

    with pytest.raises(ConfigError, match="diffusers and transformers"):
        architectures.build_meta("onnx", "Model", {})


def test_the_volume_choice_says_whether_02_follows_01():
    from playbook.storage.choice import volume_choice

    small, large = placement_table(3_000_000), placement_table(30_000_000_000, volume_gb=36)
    override, follow = volume_choice(small), volume_choice(large)
    assert (override.recommended, override.follows) == (BAKE, False)
    assert (follow.recommended, follow.follows) == (VOLUME, True)
    assert f"${override.volume_usd_per_month:g}/month" in override.sentence and "--bake-model" in override.sentence
    assert f"{follow.volume_billed_s:g} s" in follow.sentence and "02 follows it" in follow.sentence
    assert follow.volume_usd_per_month == large.rows[1].standing_usd_per_month == 2.52


def test_the_verified_sdxl_configs_are_the_published_bytes():
    """The SHA-256 of the Git LFS pointers of stabilityai/stable-diffusion-xl-base-1.0's files (README of
    playbook/data/architectures): these three configs are byte for byte the published ones."""
    import hashlib

    published = {"model_index.json": "a40ca00944bb33ea9281580f50d009d1e23a434173c0e4e234bb90bd75178874",
                 "unet/config.json": "30ebc70750223e59006f7f2b4e1e6c102570aa19a9c4ae3e1fbe7591332dbae6",
                 "text_encoder/config.json": "39b8b2e4b1949e36969caa425b6c81c68bace99198dd9078ce05d16ad401fe7f"}
    assert {name: hashlib.sha256((SDXL.folder / name).read_bytes()).hexdigest() for name in published} == published
