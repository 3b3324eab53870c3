"""The runpod target, run end to end: pointed at a local platform through the variables the runpod SDK
reads (RUNPOD_API_BASE_URL, RUNPOD_ENDPOINT_BASE_URL), the S3 override (RUNPOD_S3_ENDPOINT_URL) and the
platform's key as RUNPOD_API_KEY, `playbook plan/apply` (volume created, weights pushed through S3,
endpoint), jobs through the job client and the runpod SDK itself, and `playbook destroy` take the code path
of target "runpod" from start to finish, with no local-only shortcut (no recorded local platform to find)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from local_support import platform_with_own_build_dir

from playbook import deploy
from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.cli import main
from playbook.core.config import REPO_ROOT, resolve_target
from playbook.deploy.spec import load_spec

pytestmark = pytest.mark.slow  # a platform, a pushed model, a worker process

SPEC = REPO_ROOT / "deploy" / "model.toml"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=False) as plat:
        yield plat


@pytest.fixture
def as_runpod(platform, monkeypatch, tmp_path):
    """The environment of a RunPod user whose addresses are the local platform's (no .env, no state file)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "no-state"))  # nothing recorded: local is unreachable
    monkeypatch.delenv("PLAYBOOK_TARGET", raising=False)
    env = {"RUNPOD_API_KEY": platform.api_key, "RUNPOD_API_BASE_URL": platform.url,
           "RUNPOD_ENDPOINT_BASE_URL": f"{platform.url}/v2", "RUNPOD_S3_ENDPOINT_URL": f"{platform.url}/s3api/{{dc}}",
           "RUNPOD_S3_ACCESS_KEY_ID": "user_local", "RUNPOD_S3_SECRET_ACCESS_KEY": platform.api_key}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_plan_apply_jobs_destroy_with_target_runpod(platform, as_runpod, capsys):
    from playbook.local import volume_folder

    assert main(["plan", str(SPEC)]) == 0  # "auto" with RUNPOD_API_KEY set: the runpod target
    out = capsys.readouterr().out
    assert f"target: runpod ({platform.url}/v2)" in out and "3 to create" in out, out

    assert main(["apply", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert "3 created" in out and "verified" in out, out
    assert f"jobs go to {platform.url}/v2/" in out

    target = resolve_target()
    assert target.name == "runpod"
    spec = load_spec(SPEC)
    again = deploy.plan(spec, ControlClient(target))
    assert not again.changed, again.table()
    endpoint_id, volume_id = again.change("endpoint").id, again.change("network volume").id
    pushed = volume_folder(volume_id) / "models" / "tiny-sd" / "model_index.json"
    assert pushed.is_file()  # the weights came in through the S3 endpoint the override named

    job = JobClient(target, endpoint_id).run_sync({"prompt": "a red fox", "num_inference_steps": 2, "width": 64,
                                                   "height": 64, "seed": 1}, timeout_s=180)
    assert job.ok and job.output["images"][0]["image"], job

    # the runpod SDK, in a process of its own, reads the same variable and reaches the same endpoint
    sdk = subprocess.run(
        [sys.executable, "-c", "import json, os, runpod; runpod.api_key = os.environ['RUNPOD_API_KEY']; "
                               f"print(json.dumps(runpod.Endpoint({endpoint_id!r}).health()))"],
        env={**os.environ, **as_runpod}, capture_output=True, text=True, timeout=120)
    assert sdk.returncode == 0, sdk.stderr[-2000:]
    assert json.loads(sdk.stdout.strip().splitlines()[-1])["jobs"]["completed"] >= 1

    assert main(["destroy", str(SPEC), "--volume"]) == 0
    out = capsys.readouterr().out
    assert "target: runpod" in out and "2 deleted" in out, out  # the endpoint and the volume
    assert not volume_folder(volume_id).exists()
    assert deploy.plan(spec, ControlClient(target)).change("endpoint").action == "create"


def test_local_env_as_runpod_points_the_runpod_target_at_the_platform(tmp_path, monkeypatch, capsys):
    import playbook.local
    from playbook.storage import volume

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    for name in ("RUNPOD_API_KEY", "RUNPOD_API_BASE_URL", "RUNPOD_ENDPOINT_BASE_URL", "RUNPOD_S3_ENDPOINT_URL",
                 "RUNPOD_S3_ACCESS_KEY_ID", "RUNPOD_S3_SECRET_ACCESS_KEY", "PLAYBOOK_TARGET"):
        monkeypatch.delenv(name, raising=False)
    with playbook.local.start(record=True) as plat:
        assert main(["local", "env", "--as-runpod"]) == 0
        lines = capsys.readouterr().out
        # bash, not our parser, reads the export lines
        shell = subprocess.run(["bash", "-c", f"{lines}\nenv -0"], capture_output=True, text=True, check=True,
                               env={"PATH": os.environ["PATH"]})
        exported = dict(item.split("=", 1) for item in shell.stdout.split("\0") if item.startswith("RUNPOD_"))
        assert set(exported) == {"RUNPOD_API_KEY", "RUNPOD_API_BASE_URL", "RUNPOD_ENDPOINT_BASE_URL",
                                 "RUNPOD_S3_ENDPOINT_URL", "RUNPOD_S3_ACCESS_KEY_ID", "RUNPOD_S3_SECRET_ACCESS_KEY"}
        for name, value in exported.items():
            monkeypatch.setenv(name, value)

        target = resolve_target()  # RUNPOD_API_KEY set: auto means runpod
        assert target.name == "runpod" and target.api_key.reveal() == plat.api_key
        client = ControlClient(target)
        created = client.create_network_volume({"name": "rehearsal", "size": 10, "dataCenter": "EU-RO-1"})
        loc = volume.location(target, created["id"], "EU-RO-1")  # the S3 key pair from the environment
        assert loc.endpoint_url == f"{plat.url}/s3api/eu-ro-1"
        loc.client().put_object(Bucket=created["id"], Key="hello.txt", Body=b"hi")
        assert (playbook.local.volume_folder(created["id"]) / "hello.txt").read_bytes() == b"hi"
        assert [o.key for o in volume.ls(loc, "")] == ["hello.txt"]
        client.delete_network_volume(created["id"])
