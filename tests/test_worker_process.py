"""The worker as its own process, the ways RunPod runs it: `--test_input` and RunPod's own
`--rp_serve_api` server answering /runsync over HTTP on loopback."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

from playbook.handler.preview import HANDLER, WORKER_DIR, run_test_input
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end

FAST = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_demo_model(tmp_path_factory.mktemp("proc") / "tiny-sd")


def test_test_input_runs_the_shipped_test_input_json(model):
    job = json.loads((WORKER_DIR / "test_input.json").read_text())
    assert job["input"]["width"] == 64 and job["input"]["num_inference_steps"] == 2  # fast on any machine
    run = run_test_input(job["input"], model)
    assert run.ok, run.output
    assert "'seed': 1}], 'width': 64, 'height': 64" in run.output
    assert "Job result" in run.output and "DEBUG" not in run.output  # INFO by default: no debug dumps


@pytest.fixture(scope="module")
def refused(model):
    """One worker process refusing a bad request (width 63): two tests read it."""
    return run_test_input({**FAST, "width": 63}, model)


def test_test_input_with_a_bad_request_fails_with_the_reason(refused):
    assert refused.returncode == 1 and "'width' = 63 is invalid" in refused.output
    assert "Traceback" not in refused.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve_api(model):
    port = free_port()
    env = {**os.environ, "MODEL_PATH": str(model)}
    env.pop("RUNPOD_WEBHOOK_GET_JOB", None)
    proc = subprocess.Popen(
        [sys.executable, str(HANDLER), "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
        cwd=WORKER_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            requests.get(f"{url}/docs", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_rp_serve_api_runsync_serves_a_real_job(serve_api):
    body = requests.post(f"{serve_api}/runsync", json={"input": FAST}, timeout=120).json()
    assert body["status"] == "COMPLETED", body
    [item] = body["output"]["images"]
    assert item["seed"] == 1
    assert Image.open(io.BytesIO(base64.b64decode(item["image"]))).size == (64, 64)


def test_rp_serve_api_bad_request_is_failed_and_the_server_keeps_serving(serve_api):
    body = requests.post(f"{serve_api}/runsync", json={"input": {"action": "paint"}}, timeout=60).json()
    assert body["status"] == "FAILED" and "allowed actions: generate, health_check" in body["error"]
    health = requests.post(f"{serve_api}/runsync", json={"input": {"action": "health_check"}}, timeout=60).json()
    assert health["status"] == "COMPLETED" and health["output"]["model_loaded"] is True
    assert health["output"]["jobs_failed"] == 1


def test_test_input_is_summarised_in_one_line(model, refused):
    done = run_test_input({"prompt": "x", "width": 64, "height": 72, "num_inference_steps": 2, "seed": 1}, model)
    assert done.summary().startswith("--test_input completed in ") and "64x72 png image(s), 2 steps" in done.summary()
    line = refused.summary()
    assert "\n" not in line and line.startswith("--test_input failed (exit 1)") and "'width' = 63" in line
