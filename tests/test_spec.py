"""DeploymentSpec: TOML and YAML load to the same spec, defaults follow the issue, and every bad field
is refused with its name and the fix; secrets are referenced by env var name only."""

from __future__ import annotations

import pytest

from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.core.secrets import Secret
from playbook.deploy.spec import load_spec, spec_from_dict

MINIMAL = {"name": "demo", "image": "me/worker:1", "gpus": ["ADA_24"]}


def test_defaults_follow_runpod_and_the_issue():
    spec = spec_from_dict(MINIMAL)
    assert (spec.workers.min, spec.workers.max, spec.workers.idle_timeout_s) == (0, 3, 5)
    assert spec.scaler.body() == {"type": "QUEUE_DELAY", "queueDelay": 4.0}
    assert spec.flashboot == "OFF" and spec.gpu_count == 1 and spec.execution_timeout_s == 300
    assert spec.endpoint_data_centers() == []


def test_example_spec_loads():
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml")
    assert spec.name == "playbook-demo" and spec.volume.data_center == "EU-RO-1"
    assert spec.endpoint_data_centers() == ["EU-RO-1"]  # pinned to the volume's data center


def test_toml_and_yaml_give_the_same_spec(tmp_path):
    (tmp_path / "a.toml").write_text('name = "x"\nimage = "i:1"\ngpus = ["RTX 4090"]\n[workers]\nmax = 2\n'
                                     '[scaler]\ntype = "REQUEST_COUNT"\nvalue = 3\n')
    (tmp_path / "a.yaml").write_text("name: x\nimage: i:1\ngpus: [RTX 4090]\nworkers: {max: 2}\n"
                                     "scaler: {type: REQUEST_COUNT, value: 3}\n")
    a, b = load_spec(tmp_path / "a.toml"), load_spec(tmp_path / "a.yaml")
    assert a == b and a.scaler.body() == {"type": "REQUEST_COUNT", "requestCount": 3}


@pytest.mark.parametrize("change, field, words", [
    ({"workers": {"min": 4, "max": 2}}, "workers", "at least min"),
    ({"workers": {"idle_timeout_s": 0}}, "workers.idle_timeout_s", "greater than or equal to 1"),
    ({"workers": {"maximum": 2}}, "workers.maximum", "known fields: min, max, idle_timeout_s"),
    ({"gpu_cont": 2}, "gpu_cont", "unknown field"),
    ({"gpus": []}, "gpus", "at least 1"),
    ({"flashboot": "ON"}, "flashboot", "OFF"),
    ({"scaler": {"type": "QUEUE_DELAY", "value": 0.1}}, "scaler", "at least 0.5"),
    ({"volume": {"name": "v", "size_gb": 5, "data_center": "EU-RO-1"}}, "volume.size_gb", "10"),
    ({"env": {"HF_TOKEN": "hf_abc"}}, "(top level)", "[secrets]"),
    ({"secrets": {"HF_TOKEN": "hf abc value"}}, "(top level)", "name an environment variable"),
    ({"data_centers": ["US-KS-2"], "volume": {"name": "v", "size_gb": 10, "data_center": "EU-RO-1"}},
     "(top level)", "exclude the volume's data center"),
])
def test_bad_fields_are_named_with_the_fix(change, field, words):
    with pytest.raises(ConfigError) as err:
        spec_from_dict({**MINIMAL, **change}, source="demo.toml")
    message = str(err.value)
    assert f"  {field}:" in message and words in message, message


def test_missing_required_field_and_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="image: required field is missing"):
        spec_from_dict({"name": "x", "gpus": ["ADA_24"]})
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")


def test_secrets_come_from_the_environment_by_name(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    spec = spec_from_dict({**MINIMAL, "secrets": {"HF_TOKEN": "MY_HF_TOKEN"}})
    monkeypatch.delenv("MY_HF_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="export MY_HF_TOKEN"):
        spec.resolved_env()
    monkeypatch.setenv("MY_HF_TOKEN", "hf_secret_value")
    env = spec.resolved_env()
    assert isinstance(env["HF_TOKEN"], Secret) and env["HF_TOKEN"].reveal() == "hf_secret_value"
    assert "hf_secret_value" not in repr(spec) + repr(env) + spec._repr_html_()
