"""What runs on the host between two denoising steps, kept off the GPU's critical path.

Why: a diffusion step on a fast GPU takes a few tens of milliseconds, and everything the host does between
two UNet calls either delays the next launch or, worse, waits for the GPU to drain (a device sync: a
tensor's value read on the host). Profiling the worker on the tiny demo model (benchmarks/step_profile.py)
found two per-step costs of ours to remove:

* the schedulers' host arithmetic on a *device* timestep: DDIM's ``prev_timestep >= 0`` and
  ``alphas_cumprod[timestep]`` read a CUDA scalar (two or three syncs per step), PNDM's and DDPM's the same.
  ``host_timesteps`` hands the scheduler the step's timestep as a Python number (read once per job) while
  the UNet keeps the device tensor, so the scheduler's arithmetic stays on the host with no sync;
* a progress update per step: the runpod SDK starts a thread and an HTTP post for each, while the host
  should be launching kernels. ``Throttle`` passes at most one update per ``min_interval_s`` (and always
  the last step).

tests/test_step_syncs.py counts the syncs per step of a real pipeline run so they do not come back.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

# Schedulers whose ``step``/``scale_model_input`` take a plain number for ``timestep`` (their signatures say
# int or float) and use it only on the host: for index lookups in host tables or to find the step index.
HOST_TIMESTEP_SCHEDULERS = frozenset({
    "DDIMScheduler", "DDPMScheduler", "PNDMScheduler", "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "LMSDiscreteScheduler",
    "UniPCMultistepScheduler",
})


class _HostTimesteps:
    """Maps a timestep tensor that is a view of ``scheduler.timesteps`` (what the pipelines' loop yields) to
    its value as a Python number, read from the device once per schedule."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.source = None  # the scheduler.timesteps tensor the values were read from
        self.values: list = []

    def __call__(self, timestep):
        import torch

        table = getattr(self.scheduler, "timesteps", None)
        if not isinstance(timestep, torch.Tensor) or not isinstance(table, torch.Tensor) or timestep.dim() != 0:
            return timestep
        if table.dim() != 1 or timestep.untyped_storage().data_ptr() != table.untyped_storage().data_ptr():
            return timestep  # not one of the schedule's own entries: leave it to the scheduler
        if self.source is not table:
            self.source, self.values = table, table.tolist()  # one read per job (set_timesteps makes a new one)
        index, rest = divmod(timestep.storage_offset() - table.storage_offset(), table.stride(0))
        if rest or not 0 <= index < len(self.values):
            return timestep
        return self.values[index]


def host_timesteps(scheduler) -> bool:
    """Make ``scheduler.step`` and ``scale_model_input`` see host numbers for the schedule's timesteps; True
    when installed (a scheduler class not in HOST_TIMESTEP_SCHEDULERS is left as it is)."""
    if type(scheduler).__name__ not in HOST_TIMESTEP_SCHEDULERS or getattr(scheduler, "_host_timesteps", None):
        return bool(getattr(scheduler, "_host_timesteps", None))
    lookup = _HostTimesteps(scheduler)
    for name, position in (("step", 1), ("scale_model_input", 1)):
        method = getattr(scheduler, name, None)
        if method is not None:
            setattr(scheduler, name, _with_host_timestep(method, position, lookup))
    scheduler._host_timesteps = lookup
    return True


def _with_host_timestep(method, position: int, lookup: _HostTimesteps):
    @functools.wraps(method)
    def call(*args, **kwargs):
        if "timestep" in kwargs:
            kwargs["timestep"] = lookup(kwargs["timestep"])
        elif len(args) > position:
            args = (*args[:position], lookup(args[position]), *args[position + 1:])
        return method(*args, **kwargs)

    return call


class Throttle:
    """``on_step(step, steps)`` passed on at most once per ``min_interval_s``, and always for the last step."""

    def __init__(self, on_step: Callable[[int, int], None], min_interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.on_step, self.min_interval_s, self.clock = on_step, min_interval_s, clock
        self.last: float | None = None

    def __call__(self, step: int, steps: int) -> None:
        now = self.clock()
        if step < steps and self.last is not None and now - self.last < self.min_interval_s:
            return
        self.last = now
        self.on_step(step, steps)


def progress_interval_s(env) -> float:
    """WORKER_PROGRESS_INTERVAL_S (default 1; 0: every step); a value that is not a number is reported and
    the default kept (a typo in a setting must not stop the worker)."""
    raw = env.get("WORKER_PROGRESS_INTERVAL_S", "1").strip() or "1"
    try:
        return max(0.0, float(raw))
    except ValueError:
        print(f"WORKER_PROGRESS_INTERVAL_S must be a number of seconds, not {raw!r}: using 1", flush=True)
        return 1.0
