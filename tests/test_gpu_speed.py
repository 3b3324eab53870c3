"""On a CUDA GPU (skipped elsewhere): a denoising step makes no device sync as CUDA itself counts them
(``torch.cuda.set_sync_debug_mode``), and every speed option, CUDA graphs included, draws eager's image.
benchmarks/gpu_run.sh runs these on the device machine; CI has no GPU."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

from playbook.core.config import REPO_ROOT, worker_on_path
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.gpu  # skipped without CUDA by tests/conftest.py (CI has no GPU)

worker_on_path()
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

REQUEST = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 3, "seed": 5}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(make_demo_model(tmp_path_factory.mktemp("gpu") / "tiny-sd"))


def run(loaded, num_steps: int):
    from imagegen import pipeline, schema

    request = schema.parse_generate({**REQUEST, "num_inference_steps": num_steps})
    return pipeline.generate(loaded, request, on_step=lambda s, n: None)


def cuda_syncs(loaded, num_steps: int) -> int:
    """Synchronizing CUDA calls during one generation, as CUDA's sync debug mode reports them."""
    import torch

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run(loaded, num_steps)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchronizing" in str(w.message) for w in caught)


def test_a_denoising_step_makes_no_cuda_sync(model):
    import step_profile
    from imagegen import pipeline

    loaded = pipeline.load(model, "cuda", "fp16")
    run(loaded, 2)
    assert cuda_syncs(loaded, 4) == cuda_syncs(loaded, 8)  # the job's fixed syncs only, none per step
    per_step, where = step_profile.syncs_per_step(lambda n: run(loaded, n), 2, loaded.pipe.scheduler)
    assert per_step == 0, where


@pytest.mark.parametrize("settings", [
    {"channels_last": True}, {"fuse_qkv": True}, {"sdpa_backend": "flash"}, {"sdpa_backend": "efficient"},
    {"sdpa_backend": "math"}, {"compile": "blocks"}, {"compile": "unet", "cuda_graphs": True},
])
def test_each_option_draws_eagers_image_on_the_gpu(model, settings):
    from imagegen import pipeline, speed

    eager = np.asarray(run(pipeline.load(model, "cuda", "fp16"), 3)[0][0]).astype(int)
    loaded = pipeline.load(model, "cuda", "fp16", options=speed.Options(**settings))
    picture = np.asarray(run(loaded, 3)[0][0]).astype(int)
    again = np.asarray(run(loaded, 3)[0][0]).astype(int)  # CUDA graphs replay on the second call
    assert np.abs(picture - eager).max() <= 8 and np.abs(again - eager).max() <= 8  # fp16 kernels differ a little
    if settings.get("cuda_graphs"):
        assert "compile:unet:cuda_graphs" in loaded.speed
