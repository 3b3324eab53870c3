"""End to end on the local platform with the real demo worker (worker/handler.py, the tiny diffusers
pipeline, 2 steps at 64x64) under the real runpod worker loop."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

import playbook.local as local
from playbook.api.jobs import JobClient
from playbook.local import EndpointConfig
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end

FAST = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "num_inference_steps": 2}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    volume = tmp_path_factory.mktemp("volume")
    make_demo_model(volume / "models" / "tiny-sd")
    with local.start(record=False, log_dir=tmp_path_factory.mktemp("logs")) as platform:
        cfg = platform.create_endpoint(EndpointConfig(
            name="demo", volume_dir=volume, workers_max=2, idle_timeout_s=2, scaler_type="REQUEST_COUNT",
            scaler_value=1, env={"WORKER_PREFETCH": "1"}))
        yield platform, cfg, JobClient(platform.target, cfg.id)


def png_size(image_b64: str) -> tuple[int, int]:
    image = Image.open(io.BytesIO(base64.b64decode(image_b64)))
    assert image.format == "PNG"
    return image.size


def test_fifty_jobs_on_two_workers_complete_with_correct_outputs(demo):
    platform, cfg, jobs = demo
    batch = jobs.run_batch([{**FAST, "seed": i} for i in range(50)], concurrency=10, timeout_s=180, progress=False)
    assert batch.counts == {"COMPLETED": 50}, [r.error for r in batch.results if not r.ok][:3]
    for i, result in enumerate(batch.results):
        (image,) = result.output["images"]
        assert image["seed"] == i and png_size(image["image"]) == (64, 64)
        assert result.output["num_inference_steps"] == 2
    health = jobs.health()
    assert (health.jobs_completed, health.jobs_failed, health.jobs_in_queue, health.jobs_in_progress) == (50, 0, 0, 0)
    workers = platform.list_workers(cfg.id, include_exited=True)
    assert {r.worker_id for r in batch.results} <= {w.id for w in workers}
    assert all(w.cold_start_s > 0 for w in workers if w.cold_start_s is not None)
    assert max(s.workers for s in platform.timeline(cfg.id)) == 2  # scaled to workersMax, never above


def test_bad_input_fails_with_the_workers_error_and_the_next_job_succeeds(demo):
    platform, cfg, jobs = demo
    bad = jobs.run_sync({**FAST, "width": 63, "seed": 1}, timeout_s=60)
    assert bad.status == "FAILED" and "width" in bad.error and "63" in bad.error
    good = jobs.run_sync({**FAST, "seed": 2}, timeout_s=60)
    assert good.ok and png_size(good.output["images"][0]["image"]) == (64, 64)
    health = jobs.run_sync({"action": "health_check"}, timeout_s=60)
    assert health.ok and health.output["model_loaded"] is True
