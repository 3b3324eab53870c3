"""The fitness check: a missing or corrupt model fails fast with file names and the expected path,
inside RunPod's real worker start-up, before any job is taken."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from playbook.handler.preview import HANDLER, WORKER_DIR, start_worker, worker_on_path
from playbook.weights.demo_model import make_demo_model

worker_on_path()
from imagegen import fitness  # noqa: E402

UNET = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_demo_model(tmp_path_factory.mktemp("fit") / "tiny-sd")


@pytest.fixture
def copy(model, tmp_path):
    target = tmp_path / "tiny-sd"
    shutil.copytree(model, target)
    return target


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_whole_model_has_no_problems(model):
    assert fitness.model_problems(model) == []


def test_missing_folder_and_missing_files_are_named(copy, tmp_path):
    assert fitness.model_problems(tmp_path / "nowhere") == [f"model folder {tmp_path / 'nowhere'} does not exist"]
    (copy / "text_encoder" / "model.safetensors").unlink()
    shutil.rmtree(copy / "vae")
    problems = fitness.model_problems(copy)
    assert any("text_encoder/ has config.json but no weights file" in p for p in problems)
    assert any(f"{copy / 'vae'}/ is missing" in p for p in problems)
    (copy / "model_index.json").unlink()
    assert fitness.model_problems(copy) == [f"{copy / 'model_index.json'} is missing: {copy} is not a "
                                            "diffusers pipeline folder"]


def test_truncated_and_garbage_safetensors_are_caught_from_their_headers(copy):
    truncate(copy / UNET)
    (copy / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    problems = fitness.model_problems(copy)
    assert any(f"{copy / UNET} is truncated" in p and "its header needs" in p for p in problems)
    assert any("vae/diffusion_pytorch_model.safetensors is truncated or not safetensors" in p for p in problems)


def test_the_worker_records_the_problem_instead_of_raising(copy):
    truncate(copy / UNET, 0.9)
    worker = start_worker(copy)
    assert worker.loaded is None and "is truncated" in worker.problem and "MODEL_PATH=" in worker.problem
    with pytest.raises(RuntimeError, match="is truncated"):
        worker.check_fitness()
    result = worker.handle({"id": "j", "input": {"prompt": "x", "width": 64, "height": 64}})
    assert set(result) == {"error"} and isinstance(result["error"], str) and "is truncated" in result["error"]
    health = worker.handle({"id": "h", "input": {"action": "health_check"}})
    assert health["model_loaded"] is False and "is truncated" in health["problem"]


def run_worker_loop(model_path, timeout_s=60):
    """handler.py as on RunPod: the real job loop, whose start-up runs the fitness checks."""
    env = {**os.environ, "MODEL_PATH": str(model_path), "RUNPOD_POD_ID": "fitness-test",
           # a closed loopback port: the fitness check must end the process before any job take
           "RUNPOD_WEBHOOK_GET_JOB": "http://127.0.0.1:9/v2/e/job-take/$ID?gpu=none",
           "RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true"}
    for name in ("RUNPOD_WEBHOOK_PING", "RUNPOD_AI_API_KEY", "RUNPOD_WEBHOOK_POST_OUTPUT"):
        env.pop(name, None)
    return subprocess.run([sys.executable, str(HANDLER)], cwd=WORKER_DIR, env=env, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.mark.slow  # starts the worker process
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_runpods_worker_start_fails_fast_with_the_message(copy, tmp_path, damage):
    if damage == "missing":
        target = tmp_path / "volume" / "models" / "not-copied"
    else:
        target = copy
        truncate(copy / UNET)
    proc = run_worker_loop(target)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Fitness check failed: model_files_are_usable" in out and "Worker is unhealthy, exiting." in out
    assert f"MODEL_PATH={target}" in out and "Traceback" not in out
    if damage == "missing":
        assert f"model folder {target} does not exist" in out
    else:
        assert f"{target / UNET} is truncated" in out


def test_the_manifest_of_a_push_names_missing_and_short_files(copy):
    """A folder pushed by `playbook volume push` carries a manifest: the check compares sizes against it,
    so a config file that never arrived (not a weight, so not caught by the header checks) is named."""
    import json

    from playbook.storage import volume

    assert fitness.MANIFEST_NAME == volume.MANIFEST_NAME
    entries = volume.local_manifest(copy)
    manifest = {"version": 1, "complete": True, "files": [e.__dict__ for e in entries]}
    (copy / fitness.MANIFEST_NAME).write_text(json.dumps(manifest))
    assert fitness.model_problems(copy) == []
    (copy / "scheduler" / "scheduler_config.json").write_text("{}")
    (copy / "tokenizer" / "merges.txt").unlink()
    problems = fitness.model_problems(copy)
    assert any("scheduler_config.json has 2 bytes, the manifest says" in p for p in problems)
    assert any("tokenizer/merges.txt is missing" in p for p in problems)
    (copy / fitness.MANIFEST_NAME).write_text(json.dumps({**manifest, "complete": False}))
    assert any("did not finish" in p for p in fitness.model_problems(copy))
