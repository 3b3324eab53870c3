"""The demo model: a real Stable Diffusion-shaped pipeline made offline, deterministic, world-readable."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from playbook.cli import main as cli
from playbook.core.errors import ConfigError
from playbook.weights import demo_model


def digests(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow  # makes the demo model twice in subprocesses
def test_two_makes_give_identical_files_readable_by_anyone(tmp_path):
    a = demo_model.make_demo_model(tmp_path / "a")
    b = demo_model.make_demo_model(tmp_path / "b")
    assert digests(a) == digests(b)
    weights = sorted(a.rglob("*.safetensors"))
    assert {w.parent.name for w in weights} == {"unet", "vae", "text_encoder"}
    for p in a.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o755 if p.is_dir() else 0o644), f"{p} has mode {oct(mode)}"
    total_mb = sum(p.stat().st_size for p in a.rglob("*") if p.is_file()) / 1e6
    assert total_mb < 5


def test_it_has_the_stable_diffusion_structure_and_a_local_tokenizer(tmp_path):
    from diffusers import DiffusionPipeline

    path = demo_model.make_demo_model(tmp_path / "m")
    index = json.loads((path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"] and index["vae"] == ["diffusers", "AutoencoderKL"]
    assert (path / "tokenizer" / "vocab.json").is_file() and (path / "tokenizer" / "merges.txt").is_file()
    pipe = DiffusionPipeline.from_pretrained(path, local_files_only=True)
    assert type(pipe.text_encoder).__name__ == "CLIPTextModel"
    assert pipe.tokenizer.model_max_length == 77
    ids = pipe.tokenizer("a prompt " * 100, truncation=True, max_length=77).input_ids
    assert len(ids) == 77 and ids[0] == pipe.tokenizer.bos_token_id


def test_ensure_makes_it_once_and_sizes_are_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    path = demo_model.ensure_demo_model()
    assert path == tmp_path / "volume" / "models" / "tiny-sd" and demo_model.is_demo_model(path, "tiny")
    before = (path / "unet" / "config.json").stat().st_mtime_ns
    assert demo_model.ensure_demo_model() == path
    assert (path / "unet" / "config.json").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="tiny, small, medium"):
        demo_model.make_demo_model(tmp_path / "x", size="huge")
    assert not (tmp_path / "x").exists()


def test_cli_makes_the_model_and_skips_an_existing_one(tmp_path, capsys):
    out = tmp_path / "cli-model"
    assert cli(["demo-model", "--out", str(out)]) == 0
    assert "made in" in capsys.readouterr().out and demo_model.is_demo_model(out, "tiny")
    assert cli(["demo-model", "--out", str(out)]) == 0
    assert "already at" in capsys.readouterr().out
