"""No host sync per denoising step, counted on a real tiny pipeline run through the worker's generate (its
progress callback included); each sync would make the host wait for the GPU to drain between two steps.

The counter (benchmarks/step_profile.py) sees every read of a tensor's value on the host: the aten ops that
do it (``_local_scalar_dense`` behind ``.item()``/``bool()``/``int()``, ``is_nonzero``, ``nonzero``, ...) through
a torch dispatch mode, and ``Tensor.cpu/.numpy/.tolist/.item`` and ``torch.cuda.synchronize`` by patching.
Counting on the CPU counts the same calls a GPU run makes, so the test needs no GPU."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from playbook.core.config import REPO_ROOT, worker_on_path
from playbook.weights.demo_model import make_demo_model

worker_on_path()
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import step_profile  # noqa: E402
from imagegen import pipeline, schema, steps  # noqa: E402


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return pipeline.load(str(make_demo_model(tmp_path_factory.mktemp("syncs") / "tiny-sd")), "cpu", "fp32")


def generator_of(loaded, progress: list | None = None):
    def generate(num_steps: int):
        request = schema.parse_generate({"prompt": "a lighthouse", "width": 64, "height": 64,
                                         "num_inference_steps": num_steps, "seed": 3})
        on_step = steps.Throttle(lambda s, n: progress.append(s), 0) if progress is not None else None
        return pipeline.generate(loaded, request, on_step)

    return generate


def test_a_denoising_step_makes_no_host_sync(loaded):
    progress = []
    per_step, where = step_profile.syncs_per_step(generator_of(loaded, progress), 2, loaded.pipe.scheduler)
    assert "host_timesteps" in loaded.speed
    assert per_step == 0, where
    assert progress == [1, 2, 1, 2, 3, 4]  # the callback ran every step of both runs


@pytest.mark.slow
def test_the_counter_sees_the_schedulers_syncs_without_host_timesteps(loaded):
    """The same run with a scheduler that reads its device timestep on the host (DDIM as diffusers ships it):
    the counter finds them, at the scheduler's lines (so a zero above is not the counter missing them)."""
    from diffusers import DDIMScheduler

    shimmed = loaded.pipe.scheduler
    loaded.pipe.scheduler = DDIMScheduler.from_config(shimmed.config)
    try:
        per_step, where = step_profile.syncs_per_step(generator_of(loaded), 2, loaded.pipe.scheduler)
    finally:
        loaded.pipe.scheduler = shimmed
    assert per_step >= 1
    assert all(place.startswith("scheduling_ddim.py") for _, place in where), where


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EulerDiscreteScheduler", "DPMSolverMultistepScheduler", "PNDMScheduler"])
def test_other_schedulers_step_without_host_syncs_and_draw_the_same_image(loaded, name):
    import diffusers

    original = loaded.pipe.scheduler
    scheduler = getattr(diffusers, name).from_config(original.config, skip_prk_steps=True)  # (PNDM as in SD)
    loaded.pipe.scheduler = scheduler
    try:
        unshimmed = np.asarray(generator_of(loaded)(3)[0][0])
        assert steps.host_timesteps(scheduler)
        per_step, where = step_profile.syncs_per_step(generator_of(loaded), 2, scheduler)
        shimmed = np.asarray(generator_of(loaded)(3)[0][0])
    finally:
        loaded.pipe.scheduler = original
    assert per_step == 0, where
    assert np.array_equal(unshimmed, shimmed)  # the scheduler does the same arithmetic on the host numbers


def test_host_timesteps_leaves_unknown_schedulers_and_foreign_timesteps_alone():
    import torch

    class Other:
        timesteps = torch.tensor([3, 2, 1])

        def step(self, model_output, timestep, sample):
            return timestep

    other = Other()
    assert not steps.host_timesteps(other)
    from diffusers import DDIMScheduler

    ddim = DDIMScheduler()
    ddim.set_timesteps(4)
    assert steps.host_timesteps(ddim)
    lookup = ddim._host_timesteps
    assert lookup(ddim.timesteps[2]) == ddim.timesteps[2].item() and isinstance(lookup(ddim.timesteps[2]), int)
    foreign = torch.tensor(500)
    assert lookup(foreign) is foreign and lookup(7) == 7  # not a view of the schedule: passed through as is


def test_throttle_passes_the_first_step_the_last_and_one_per_interval():
    passed, now = [], [0.0]
    throttle = steps.Throttle(lambda s, n: passed.append(s), 1.0, clock=lambda: now[0])
    for step in range(1, 11):
        throttle(step, 10)
        now[0] += 0.3
    assert passed == [1, 5, 9, 10]
    assert steps.progress_interval_s({}) == 1.0 and steps.progress_interval_s({"WORKER_PROGRESS_INTERVAL_S": "0"}) == 0
    assert steps.progress_interval_s({"WORKER_PROGRESS_INTERVAL_S": "soon"}) == 1.0
