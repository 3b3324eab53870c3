"""A spec with a [model] section, from the command line alone on a clean build folder: `playbook plan`
shows the bytes to upload, `playbook apply` creates the volume, pushes the weights through the S3 API,
verifies them and points MODEL_PATH at them, and the first job COMPLETES with an image."""

from __future__ import annotations

import pytest
import requests
from local_support import platform_with_own_build_dir

from playbook import deploy
from playbook.api.control import ControlClient
from playbook.cli import main
from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.deploy.spec import load_spec, spec_from_dict
from playbook.storage import volume

SPEC = REPO_ROOT / "deploy" / "model.toml"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=True) as plat:
        yield plat


def test_plan_apply_push_then_first_job(platform, capsys, monkeypatch):
    from playbook.local.servers.control_api import volume_folder

    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.chdir(REPO_ROOT)
    assert main(["plan", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert "3 to create" in out and "bytes_to_upload=" in out and "MODEL_PATH=/runpod-volume/models/tiny-sd" in out

    assert main(["apply", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert "3 created" in out and "verified" in out

    client = ControlClient(platform.target)
    spec = load_spec(SPEC)
    again = deploy.plan(spec, client)
    weights = again.change("model weights")
    assert not again.changed and weights.action == "unchanged" and weights.fields[0].new == 0
    endpoint_id, volume_id = again.change("endpoint").id, again.change("network volume").id
    assert client.get_endpoint(endpoint_id)["env"]["MODEL_PATH"] == "/runpod-volume/models/tiny-sd"
    on_volume = volume_folder(volume_id) / "models" / "tiny-sd"
    assert (on_volume / "model_index.json").is_file() and (on_volume / volume.MANIFEST_NAME).is_file()

    resp = requests.post(f"{platform.target.job_api_url}/{endpoint_id}/runsync", timeout=180,
                         headers={"Authorization": platform.target.api_key.reveal()},
                         json={"input": {"prompt": "a red fox", "num_inference_steps": 2, "width": 64,
                                         "height": 64, "seed": 1}})
    job = resp.json()
    assert job["status"] == "COMPLETED", job
    assert job["output"]["images"][0]["image"]

    assert main(["destroy", str(SPEC), "--volume"]) == 0
    capsys.readouterr()


def test_model_section_is_validated():
    base = {"name": "x", "image": "i", "gpus": ["ADA_24"]}
    with pytest.raises(ConfigError, match="add a \\[volume\\] table"):
        spec_from_dict({**base, "model": {"source": "demo:tiny"}})
    vol = {"name": "v", "size_gb": 10, "data_center": "EU-RO-1"}
    with pytest.raises(ConfigError, match="model.dest"):
        spec_from_dict({**base, "volume": vol, "model": {"source": "demo:tiny", "dest": "/etc/x"}})
    with pytest.raises(ConfigError, match="disagrees with \\[model\\] dest"):
        spec_from_dict({**base, "volume": vol, "env": {"MODEL_PATH": "/elsewhere"},
                        "model": {"source": "demo:tiny", "dest": "models/a"}})
    spec = spec_from_dict({**base, "volume": vol, "model": {"source": "demo:tiny", "dest": "models/a"}})
    assert spec.resolved_env()["MODEL_PATH"] == "/runpod-volume/models/a"
    with pytest.raises(ConfigError, match="no model_index.json"):
        spec.model.model_copy(update={"source": "/nonexistent"}).local_folder()
