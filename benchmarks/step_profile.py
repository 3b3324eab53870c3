"""Where a denoising step's host time goes: device syncs per step, and a torch.profiler table.

What it measures, with the worker's own generate (imagegen.pipeline, its step callback included):
* host syncs per denoising step: every call that reads a tensor's value on the host (``.item()``, ``bool()``,
  ``int()``, indexing with a tensor, ``nonzero``, ``.cpu()``, ``.numpy()``, ``.tolist()``,
  ``torch.cuda.synchronize``), counted by ``SyncCounter`` over a run of N steps and one of 2N steps; the
  difference over N is what each step costs, the job's fixed reads (text encoding, decoding) cancel out.
  On a GPU each of them waits for the device to drain; on the CPU they are counted the same way, so a test
  (tests/test_step_syncs.py) holds the count at zero without a GPU;
* a torch.profiler table of one generation (top host ops by self CPU time), where the scheduler's and the
  callbacks' Python work shows beside the UNet's.

    python benchmarks/step_profile.py                 # the tiny demo model, 64x64
    python benchmarks/step_profile.py --sd15 --side 64 --steps 2   # the SD-1.5-shaped pipeline, small size
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import traceback
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playbook.core.config import worker_on_path  # noqa: E402

# aten ops that read a device value back to the host (each waits for the GPU to finish its queue)
SYNC_OPS = frozenset({"aten::_local_scalar_dense", "aten::is_nonzero", "aten::nonzero", "aten::nonzero_static",
                      "aten::masked_select", "aten::equal", "aten::_unique2", "aten::unique_consecutive",
                      "aten::unique_dim", "aten::repeat_interleave.Tensor"})
SYNC_METHODS = ("cpu", "numpy", "tolist", "item")


class SyncCounter:
    """Counts host syncs while active, by where they happen (the first frame outside torch).

    A read is a sync only when the tensor would live on the GPU in a GPU run. On the CPU everything does not,
    so the counter follows where each tensor would be: the scheduler's host tables (the tensors it keeps on
    the CPU even when its timesteps go to the GPU, found by a ``set_timesteps(device="meta")`` probe) and what
    is computed from host tensors alone are host tensors; a read of one of them waits for nothing."""

    def __init__(self, scheduler=None):
        self.where: collections.Counter = collections.Counter()
        self.scheduler = scheduler
        self.table_names = host_table_names(scheduler)
        self.derived: dict[int, weakref.ref] = {}  # tensors computed from host tensors only, by id

    @property
    def total(self) -> int:
        return sum(self.where.values())

    def is_host(self, tensor) -> bool:
        known = self.derived.get(id(tensor))
        if known is not None and known() is tensor:
            return True
        if tensor.dim() > 1 or not self.table_names:  # the host tables are vectors and scalars
            return False
        storage = tensor.untyped_storage().data_ptr()
        return any(getattr(getattr(self.scheduler, name, None), "untyped_storage", None) is not None
                   and getattr(self.scheduler, name).untyped_storage().data_ptr() == storage
                   for name in self.table_names)

    def record(self, what: str) -> None:
        frames = [f for f in traceback.extract_stack()[:-2] if "/torch/" not in f.filename
                  and not f.filename.endswith("step_profile.py")]
        place = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        self.where[(what, place)] += 1

    def __enter__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
                host = bool(inputs) and all(counter.is_host(t) for t in inputs)
                if func._schema.name in SYNC_OPS and not host:
                    counter.record(func._schema.name)
                out = func(*args, **(kwargs or {}))
                if host:
                    for t in tree_leaves(out):
                        if isinstance(t, torch.Tensor):
                            counter.derived[id(t)] = weakref.ref(t)
                return out

        self._saved = {name: getattr(torch.Tensor, name) for name in SYNC_METHODS}
        self._in_method = False
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, self._counting(name, original))
        self._synchronize = torch.cuda.synchronize
        torch.cuda.synchronize = self._counting("cuda.synchronize", self._synchronize)
        self._mode = Mode()
        self._mode.__enter__()
        return self

    def _counting(self, name, original):
        import torch

        counter = self

        def call(*args, **kwargs):
            if counter._in_method or (args and isinstance(args[0], torch.Tensor) and counter.is_host(args[0])):
                return original(*args, **kwargs)  # .item() inside .tolist(), or a host tensor: no sync
            counter.record(f"Tensor.{name}" if name in SYNC_METHODS else name)
            counter._in_method = True
            try:
                return original(*args, **kwargs)
            finally:
                counter._in_method = False

        return call

    def __exit__(self, *exc):
        import torch

        self._mode.__exit__(*exc)
        for name, original in self._saved.items():
            setattr(torch.Tensor, name, original)
        torch.cuda.synchronize = self._synchronize
        return False


def host_table_names(scheduler) -> frozenset[str]:
    """The scheduler's tensor attributes that stay on the CPU when its timesteps go to a device (a copy is
    set up on the meta device, which holds no data: what is still on the CPU afterwards is a host table)."""
    import torch

    if scheduler is None or not hasattr(scheduler, "config"):
        return frozenset()
    probe = type(scheduler).from_config(scheduler.config)
    to = torch.Tensor.to

    def to_host_shape(self, *args, **kwargs):  # a meta tensor sent back to the CPU: its shape, no data
        try:
            return to(self, *args, **kwargs)
        except NotImplementedError:
            return torch.zeros(self.shape, dtype=self.dtype)

    torch.Tensor.to = to_host_shape
    try:
        probe.set_timesteps(4, device="meta")
    except Exception:  # noqa: BLE001 - a scheduler that cannot be probed has no known host tables
        return frozenset()
    finally:
        torch.Tensor.to = to
    return frozenset(name for name, value in vars(probe).items()
                     if isinstance(value, torch.Tensor) and value.device.type == "cpu")


def syncs_per_step(generate, steps: int = 2, scheduler=None) -> tuple[float, collections.Counter]:
    """``generate(num_inference_steps)`` run with ``steps`` and ``2 * steps``: host syncs per step, and where
    the extra ones happened (what each step adds); ``scheduler``: the pipeline's, for its host tables."""
    with SyncCounter(scheduler) as short:
        generate(steps)
    with SyncCounter(scheduler) as long:
        generate(2 * steps)
    extra = long.where.copy()
    extra.subtract(short.where)
    return (long.total - short.total) / steps, +extra


def sd15_in_memory():
    """The SD-1.5-shaped pipeline of gpu_check (random weights), loaded the way the worker loads a folder
    (SDPA attention, host timesteps) but built in memory: no 4 GB written to disk for a profile."""
    import gpu_check
    import torch
    from imagegen import pipeline
    from imagegen.steps import host_timesteps

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = pipeline.choose_dtype(device)
    pipe = gpu_check.sd15_pipeline(device).to(dtype=getattr(torch, pipeline.DTYPES[dtype]))
    pipe.set_progress_bar_config(disable=True)
    attention = pipeline.use_sdpa(pipe)
    return pipeline.Loaded(pipe, device, dtype, attention, 0.0,
                           speed=["host_timesteps"] if host_timesteps(pipe.scheduler) else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sd15", action="store_true", help="the SD-1.5-shaped model (random weights, in memory)")
    parser.add_argument("--model", type=Path, help="an existing model folder instead")
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rows", type=int, default=15, help="profiler rows to print")
    args = parser.parse_args(argv)
    worker_on_path()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from imagegen import pipeline, schema

    from playbook.weights.demo_model import make_demo_model

    with tempfile.TemporaryDirectory() as tmp:
        if args.sd15:
            loaded = sd15_in_memory()
        else:
            loaded = pipeline.load(str(args.model or make_demo_model(Path(tmp) / "tiny")), "auto", "auto")
        calls = []

        def generate(steps: int):
            request = schema.parse_generate({"prompt": "a lighthouse", "width": args.side, "height": args.side,
                                             "num_inference_steps": steps, "seed": 1})
            return pipeline.generate(loaded, request, on_step=lambda s, n: calls.append(s))

        generate(1)  # lazy initialisation out of the way
        per_step, where = syncs_per_step(generate, args.steps, loaded.pipe.scheduler)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            generate(args.steps)
            seconds = time.perf_counter() - start
    print(f"\n{type(loaded.pipe).__name__} on {loaded.device} ({loaded.dtype}), {args.side}x{args.side}, "
          f"{args.steps} steps in {seconds:.2f} s; speed options {loaded.speed}")
    print(f"host syncs per denoising step: {per_step:g}")
    for (what, place), count in where.most_common():
        print(f"  {count / args.steps:g} per step  {what:<28} at {place}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
