"""Every client example in examples/ completes a job on the local platform with the real demo worker
(the same way it would on RunPod: only RUNPOD_ENDPOINT_BASE_URL differs), saves decodable images of the
requested size, and reports a refused request with the worker's error and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tools
from PIL import Image

import playbook.local as local
from playbook.core.config import REPO_ROOT
from playbook.local import EndpointConfig
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.slow  # a local platform and its worker processes: not the quick tier

EXAMPLES = REPO_ROOT / "examples"
COMMANDS = {
    "curl": (["bash", str(EXAMPLES / "curl.sh")], ["curl", "jq", "base64"]),
    "python_requests": ([sys.executable, str(EXAMPLES / "python_requests.py")], []),
    "python_runpod_sdk": ([sys.executable, str(EXAMPLES / "python_runpod_sdk.py")], []),
    "javascript_fetch": (["node", str(EXAMPLES / "javascript_fetch.mjs")], ["node"]),
}
JOB = {"input": {"prompt": "a red bicycle in the snow", "width": 64, "height": 96, "num_inference_steps": 2,
                 "seed": 5, "num_images": 2, "output_format": "jpeg"}}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    volume = tmp_path_factory.mktemp("volume")
    make_demo_model(volume / "models" / "tiny-sd")
    with local.start(record=False, log_dir=tmp_path_factory.mktemp("logs")) as platform:
        cfg = platform.create_endpoint(EndpointConfig(name="examples", volume_dir=volume, workers_max=1,
                                                      idle_timeout_s=30))
        yield platform, cfg


def run_example(name, endpoint, tmp_path, job: dict, wait_ms: int = 90000):
    command, needs = COMMANDS[name]
    for tool in needs:
        tools.need(tool, why=f"the {name} example runs it; .ci/run installs it")
    platform, cfg = endpoint
    body = tmp_path / "job.json"
    body.write_text(json.dumps(job))
    env = {**os.environ, "RUNPOD_API_KEY": platform.api_key, "RUNPOD_ENDPOINT_ID": cfg.id,
           "RUNPOD_ENDPOINT_BASE_URL": platform.target.job_api_url, "OUT_DIR": str(tmp_path / "out"),
           "WAIT_MS": str(wait_ms), "TIMEOUT_S": "180"}
    return subprocess.run([*command, str(body)], env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_example_completes_a_job_and_saves_its_images(name, endpoint, tmp_path):
    # WAIT_MS=1000: /runsync returns before a cold worker is done, so the /status wait is exercised too
    done = run_example(name, endpoint, tmp_path, JOB, wait_ms=1000)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = sorted((tmp_path / "out").iterdir())
    assert [p.suffix for p in saved] == [".jpeg", ".jpeg"], done.stdout
    for path in saved:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (64, 96)
    assert "seed 5" in done.stdout and "seed 6" in done.stdout


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_example_reports_a_refused_request_and_exits_non_zero(name, endpoint, tmp_path):
    done = run_example(name, endpoint, tmp_path, {"input": {"prompt": "x", "width": 63}})
    assert done.returncode != 0
    assert "FAILED" in done.stderr and "'width' = 63" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def test_playbook_local_env_prints_the_variables_the_examples_read(tmp_path, monkeypatch, capsys):
    from playbook.cli import main

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    with local.start(record=True, log_dir=tmp_path / "logs") as platform:
        assert main(["local", "env", "--endpoint", "abc"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line for line in lines if not line.startswith("#")] == [
            f"export RUNPOD_API_KEY={platform.api_key}",
            f"export RUNPOD_ENDPOINT_BASE_URL={platform.target.job_api_url}", "export RUNPOD_ENDPOINT_ID=abc",
            "export RUNPOD_S3_ACCESS_KEY_ID=user_local",
            f"export RUNPOD_S3_SECRET_ACCESS_KEY={platform.api_key}"]
        # the pair and the endpoint printed are what the local S3 API accepts, as boto3 uses them
        endpoint = f"{platform.url}/s3api/eu-ro-1"
        assert any(endpoint in line for line in lines if line.startswith("#"))
        import s3_helpers

        s3 = s3_helpers.client(endpoint, "user_local", platform.api_key)
        assert s3.list_buckets()["Buckets"] == []
