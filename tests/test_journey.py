"""The journey's shared spec and state, bringing your own model, and notebook parameters from the CLI."""

from __future__ import annotations

import pytest

from playbook.core.errors import ConfigError
from playbook.journey import notebooks
from playbook.journey import state as journey
from playbook.weights.demo_model import make_demo_model


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
    assert "journey (runpod): volume - (rv)" in journey.show("runpod")._repr_html_()


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
    assert notebooks.parse_parameters(["steps=4", "model_dir=/data/m", "prefetch=false", "vram_gb=2.5",
                                      "run_test_input=False", "gpu_pool=None", "prompt=True story"]) == {
        "steps": 4, "model_dir": "/data/m", "prefetch": False, "vram_gb": 2.5, "run_test_input": False,
        "gpu_pool": None, "prompt": "True story"}
    with pytest.raises(ConfigError, match="name=value"):
        notebooks.parse_parameters(["steps"])
    with pytest.raises(ConfigError, match="has the parameter"):
        notebooks.run_all(notebooks.select(["02"]), parameters={"no_such_parameter": 1})
    assert {"model_dir", "gpu_pool", "target"} <= notebooks.declared_parameters(notebooks.select(["02"])[0])


def test_01s_analysis_sizes_02_only_for_the_same_model_at_the_same_dtype(tmp_path):
    from playbook.weights import analyze

    model = make_demo_model(tmp_path / "my-model")
    at_1024 = analyze.analyze(model, dtype="float16", width=1024, height=1024)
    recorded = journey.record_analysis("local", at_1024, headroom=0.2)["analysis"]
    assert recorded["model"] == str(model.resolve()) and recorded["fitting_pools"][0] == "AMPERE_16"
    default = analyze.analyze(model, dtype="float16")  # what 02 runs itself, at 512 x 512
    sized = journey.sizes("local", default)
    assert sized["source"] == "01_analyze_model" and sized["vram_gb"] == at_1024.vram_gb > default.vram_gb
    assert sized["container_disk_gb"] == at_1024.container_disk_gb["network_volume"]
    assert journey.sizes("local", analyze.analyze(model, dtype="float32"))["source"] == "this notebook"
    assert journey.sizes("runpod", default)["source"] == "this notebook"  # another target's journey


class FakeControl:
    """Just what the teardown calls, over lists of resources."""

    def __init__(self, target_name, **resources):
        from types import SimpleNamespace

        self.target = SimpleNamespace(name=target_name)
        self.items = {kind: list(resources.get(kind, [])) for kind in ("endpoints", "templates", "volumes")}
        self.deleted = []

    def list_endpoints(self):
        return self.items["endpoints"]

    def list_templates(self):
        return self.items["templates"]

    def list_network_volumes(self):
        return self.items["volumes"]

    def _delete(self, kind, resource_id):
        attached = {v for e in self.items["endpoints"] for v in e.get("networkVolumes", [])}
        assert kind != "volumes" or resource_id not in attached, "a volume deleted before its endpoint"
        self.items[kind] = [r for r in self.items[kind] if r["id"] != resource_id]
        self.deleted.append(resource_id)

    def delete_endpoint(self, resource_id):
        self._delete("endpoints", resource_id)

    def delete_template(self, resource_id):
        self._delete("templates", resource_id)

    def delete_network_volume(self, resource_id):
        self._delete("volumes", resource_id)


def test_teardown_deletes_only_what_the_journey_recorded_then_forgets_it():
    def resources():
        return {"endpoints": [{"id": "e1", "name": "playbook-demo", "networkVolumes": ["v1"]},
                              {"id": "e2", "name": "playbook-demo-other", "networkVolumes": []}],
                "volumes": [{"id": "v1", "name": "playbook-models"}, {"id": "v2", "name": "playbook-models"}]}

    journey.record("local", endpoint_id="e1", volume_id="v1", template_id="gone")
    local = FakeControl("local", **resources())
    report = journey.teardown(local)
    assert local.deleted == ["e1", "v1"] and journey.state("local") == {}
    assert {(s.kind, s.id, s.action) for s in report.items} == {
        ("endpoint", "e1", "delete"), ("template", "gone", "absent"), ("network volume", "v1", "delete")}
    assert "resources on local (deleted)" in report._repr_html_()
    # on RunPod the default only lists: the volume bills while it exists, the user decides
    journey.record("runpod", endpoint_id="e1", volume_id="v1")
    runpod = FakeControl("runpod", **resources())
    assert {s.action for s in journey.teardown(runpod).items} == {"keep"} and runpod.deleted == []
    assert journey.get("runpod", "endpoint_id") == "e1"
    journey.teardown(runpod, "always")
    assert runpod.deleted == ["e1", "v1"] and journey.state("runpod") == {}
    with pytest.raises(ConfigError, match="clean_up must be one of"):
        journey.teardown(runpod, "yes")
