"""plan / apply / destroy end to end on the local platform: the two commands of the README (`playbook
plan`, `playbook apply`) take a spec file to a live endpoint whose first job completes with the demo
model read from the network volume's folder; plans render as text and HTML with secrets masked."""

from __future__ import annotations

import pytest
import requests
from local_support import platform_with_own_build_dir

from playbook import deploy
from playbook.api.control import ControlClient
from playbook.cli import main
from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.deploy.spec import load_spec

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end

DEMO = REPO_ROOT / "deploy" / "demo.toml"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One recorded local platform (so `resolve_target()` finds it) with its own build folder."""
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=True) as plat:
        yield plat


def test_plan_apply_cli_then_first_job(platform, capsys, monkeypatch):
    from playbook.local.servers.control_api import volume_folder
    from playbook.weights.demo_model import make_demo_model

    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.chdir(REPO_ROOT)
    assert main(["plan", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert f"target: local ({platform.target.control_api_url})" in out and "2 to create" in out

    assert main(["apply", str(DEMO)]) == 0
    out = capsys.readouterr().out
    assert "target: local" in out and "endpoint " in out and "2 created" in out and "<new volume>" not in out

    client = ControlClient(platform.target)
    spec = load_spec(DEMO)
    again = deploy.plan(spec, client)
    assert not again.changed and "no changes" in again.table()
    endpoint_id = again.change("endpoint").id
    volume_id = again.change("network volume").id

    make_demo_model(volume_folder(volume_id) / "models" / "tiny-sd")  # "upload" the weights to the volume
    resp = requests.post(f"{platform.target.job_api_url}/{endpoint_id}/runsync", timeout=120,
                         headers={"Authorization": platform.target.api_key.reveal()},
                         json={"input": {"prompt": "a red fox", "num_inference_steps": 2, "width": 64,
                                         "height": 64, "seed": 1}})
    job = resp.json()
    assert job["status"] == "COMPLETED", job
    assert job["output"]["images"][0]["image"]
    workers = client.endpoint_workers(endpoint_id)
    assert workers["summary"]["total"] >= 1 and workers["workers"][0]["image"] == spec.image

    assert main(["destroy", str(DEMO), "--volume"]) == 0
    out = capsys.readouterr().out
    assert "2 deleted" in out
    assert not volume_folder(volume_id).exists()


def test_plan_renders_secrets_masked(platform, monkeypatch):
    monkeypatch.setenv("DEMO_TOKEN_VALUE", "tok_very_secret")
    spec = load_spec(DEMO).with_changes(name="masked", secrets={"HF_TOKEN": "DEMO_TOKEN_VALUE"})
    client = ControlClient(platform.target)
    plan = deploy.plan(spec, client)
    text, html = plan.table(), plan._repr_html_()
    assert "tok_very_secret" not in text + html + repr(plan)
    assert "HF_TOKEN" in text and "<table>" in html and "create" in html
    result = deploy.apply(spec, client)
    assert client.get_endpoint(result.endpoint_id)["env"]["HF_TOKEN"] == "tok_very_secret"  # sent, not shown
    monkeypatch.setenv("DEMO_TOKEN_VALUE", "tok_rotated")
    rotated = deploy.plan(spec, client)
    assert [str(f) for f in rotated.change("endpoint").fields] == ["env.HF_TOKEN: ********** -> **********"]
    assert rotated.change("endpoint").body == {"env": {**spec.env, "HF_TOKEN": rotated.change("endpoint").body[
        "env"]["HF_TOKEN"]}}
    deploy.destroy(spec, client, volume=False)


def test_duplicate_names_are_refused(platform):
    client = ControlClient(platform.target)
    spec = load_spec(DEMO).with_changes(name="twice", volume=None)
    body = {"name": "twice", "type": "QUEUE", "image": "x", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4},
            "gpu": {"pools": ["ADA_24"]}}
    ids = [client.create_endpoint(body)["id"] for _ in range(2)]
    with pytest.raises(ConfigError, match="2 endpoints are named 'twice'"):
        deploy.plan(spec, client)
    for endpoint_id in ids:
        client.delete_endpoint(endpoint_id)


def test_gpus_command_offline_and_live(platform, capsys, monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    assert main(["gpus", "--vram-gb", "20"]) == 0
    out = capsys.readouterr().out
    assert "target: none contacted" in out and "prices as of 2026-06" in out
    assert "cheapest pools for 20.0 GB + 20% headroom: AMPERE_24, ADA_24" in out
    assert main(["gpus", "--live", "--target", "local"]) == 0
    out = capsys.readouterr().out
    assert f"target: local ({platform.target.control_api_url})" in out and "stock: " in out


def test_cli_starts_the_local_platform_when_none_runs(tmp_path, monkeypatch, capsys):
    """A newcomer's two commands: `plan` and `apply` need no `playbook local up` first."""
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.chdir(tmp_path)
    try:
        assert main(["plan", str(DEMO)]) == 0
        out = capsys.readouterr().out
        assert "started the local platform at http://127.0.0.1:" in out and "2 to create" in out
        assert main(["plan", str(DEMO)]) == 0
        assert "started the local platform" not in capsys.readouterr().out  # the same one is reused
    finally:
        assert main(["local", "down"]) == 0
    assert "stopped" in capsys.readouterr().out
