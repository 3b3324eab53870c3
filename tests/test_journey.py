"""The journey's shared spec and state, bringing your own model, and notebook parameters from the CLI."""

from __future__ import annotations

import pytest

from playbook import journey, notebooks
from playbook.demo_model import make_demo_model
from playbook.errors import ConfigError


@pytest.fixture(autouse=True)
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    return tmp_path / "build"


def test_state_is_kept_per_target_and_merged():
    assert journey.state("local") == {} and journey.get("local", "volume_id", "none") == "none"
    journey.record("local", volume_id="v1", gpu_pool="AMPERE_16")
    journey.record("local", endpoint_id="e1")
    journey.record("runpod", volume_id="rv")
    assert journey.state("local") == {"volume_id": "v1", "gpu_pool": "AMPERE_16", "endpoint_id": "e1"}
    journey.forget("local")
    assert journey.state("local") == {} and journey.get("runpod", "volume_id") == "rv"
    assert "journey so far (runpod)" in journey.show("runpod")._repr_html_()


def test_the_spec_is_the_journeys_once_written_else_the_default():
    assert journey.load_spec().name == "playbook-demo"  # deploy/demo.toml
    journey.save_spec(journey.load_spec().with_changes(gpus=["ADA_24"]))
    assert journey.load_spec().gpus == ["ADA_24"]
    assert journey.load_spec(journey.DEFAULT_SPEC).gpus == ["AMPERE_16", "AMPERE_24"]  # an explicit file wins
    journey.reset()
    assert journey.load_spec().gpus == ["AMPERE_16", "AMPERE_24"]


def test_bring_your_own_model_is_copied_onto_the_volume_once(tmp_path):
    own = make_demo_model(tmp_path / "my-model")
    volume = tmp_path / "volume"
    placed = journey.place_model(volume, own)
    assert placed == volume / "models" / "my-model" and (placed / "model_index.json").is_file()
    assert journey.model_path_on_volume(own) == "/runpod-volume/models/my-model"
    assert journey.model_path_on_volume("") == "/runpod-volume/models/tiny-sd"
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ConfigError, match="not a diffusers pipeline folder"):
        journey.place_model(volume, tmp_path / "not-a-model")


def test_notebook_parameters_from_the_command_line():
    assert notebooks.parse_parameters(["steps=4", "model_dir=/data/m", "prefetch=false", "vram_gb=2.5"]) == {
        "steps": 4, "model_dir": "/data/m", "prefetch": False, "vram_gb": 2.5}
    with pytest.raises(ConfigError, match="name=value"):
        notebooks.parse_parameters(["steps"])
    with pytest.raises(ConfigError, match="has the parameter"):
        notebooks.run_all(notebooks.select(["02"]), parameters={"no_such_parameter": 1})
    assert {"model_dir", "gpu_pool", "target"} <= notebooks.declared_parameters(notebooks.select(["02"])[0])
