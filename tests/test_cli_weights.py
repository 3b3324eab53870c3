"""`playbook analyze` and `playbook volume push|verify|ls` from the command line, on the local platform."""

from __future__ import annotations

import json

import pytest
from local_support import platform_with_own_build_dir

from playbook.api.control import ControlClient
from playbook.cli import main
from playbook.weights import analyze, demo_model


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=True) as plat:
        yield plat


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return demo_model.make_demo_model(tmp_path_factory.mktemp("cli") / "tiny-sd")


def test_analyze_prints_tables_and_exact_json(model, capsys):
    assert main(["analyze", str(model), "--dtype", "float16", "--width", "768", "--height", "768"]) == 0
    out = capsys.readouterr().out
    assert "network volume: 10 GB" in out and "recommended: " in out and "(estimate)" in out
    assert main(["analyze", str(model), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = analyze.analyze(model)
    assert data["params"] == expected.params and data["bytes_to_upload"] == expected.bytes_to_upload
    assert data["placement"]["recommended"] and data["volume_gb"] == 10
    assert main(["analyze", str(model.parent)]) == 1
    assert "no model_index.json" in capsys.readouterr().err


def test_volume_push_verify_ls(model, platform, capsys, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    vol = ControlClient(platform.target).create_network_volume(
        {"name": "cli-weights", "size": 10, "dataCenter": "EU-RO-1"})
    common = ["--volume", vol["id"], "--target", "local"]
    n = len([p for p in model.rglob("*") if p.is_file()])
    assert main(["volume", "push", str(model), "--dest", "models/tiny", *common]) == 0
    assert f"pushed {n} of {n} files" in capsys.readouterr().out
    assert main(["volume", "push", str(model), "--dest", "models/tiny", *common]) == 0
    assert f"pushed 0 of {n} files, 0 bytes" in capsys.readouterr().out
    assert main(["volume", "verify", "--dest", "models/tiny", "--hashes", *common]) == 0
    assert f"ok: {n} files" in capsys.readouterr().out
    assert main(["volume", "ls", "models/tiny/unet", *common]) == 0
    assert "models/tiny/unet/diffusion_pytorch_model.safetensors" in capsys.readouterr().out
    from playbook.local.servers.control_api import volume_folder

    (volume_folder(vol["id"]) / "models" / "tiny" / "vae" / "config.json").unlink()
    assert main(["volume", "verify", "--dest", "models/tiny", *common]) == 1
    assert "missing: vae/config.json" in capsys.readouterr().out
