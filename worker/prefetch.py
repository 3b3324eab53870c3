"""No dead time between jobs: let the runpod SDK fetch the next job while the current one runs.

Why: at its default concurrency of 1 the SDK's job scaler (rp_scale.py) sleeps 1 s after it takes a
job before it asks for the next, on RunPod as on the local platform; for a 2 s diffusion job that idles
the GPU a third of the time. With WORKER_PREFETCH=N the worker declares a concurrency of N + 1
(``concurrency_modifier``), so the SDK holds N more jobs while one runs, and a lock keeps the heavy
work strictly one job at a time: memory stays that of one job. When its slots are full the SDK looks
for free ones once a second, so N=1 keeps a worker busy for jobs of 1 s or more, N=2 for jobs of 0.5 s.
The handler becomes async (the work runs in a thread), which also lets a cancel stop waiting at once;
the lock is a thread lock, so a cancelled job's work still finishes before the next one starts. The
cost: a prefetched job waits on this worker even if another worker is idle; leave it off for long jobs
on wide endpoints.

Use (handler.py):  runpod.serverless.start(prefetch.start_options(handler))
"""

import asyncio
import inspect
import os
import threading

_gpu = threading.Lock()


def depth() -> int:
    """Jobs to hold beyond the running one: WORKER_PREFETCH (0 = off, the SDK default; true = 1)."""
    value = os.environ.get("WORKER_PREFETCH", "0").strip().lower()
    if value in ("true", "yes", "on"):
        return 1
    if value in ("", "false", "no", "off"):
        return 0
    try:
        return max(int(value), 0)
    except ValueError:
        raise ValueError(f"WORKER_PREFETCH must be a number of jobs (0, 1, 2...), not {value!r}") from None


def enabled() -> bool:
    return depth() > 0


def _serialized(fn, *args):
    with _gpu:
        return fn(*args)


def serialize(handler):
    """An async handler that runs the sync ``handler`` in a thread, one job at a time per worker."""

    async def run_one(job):
        return await asyncio.to_thread(_serialized, handler, job)

    return run_one


def start_options(handler, **options) -> dict:
    """``runpod.serverless.start`` options: the handler as is, or prefetching when WORKER_PREFETCH=1."""
    if not enabled() or inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler):
        return {"handler": handler, **options}
    if inspect.iscoroutinefunction(handler):
        raise TypeError("prefetch.start_options wants a sync handler; it serializes it itself")
    slots = depth() + 1
    return {"handler": serialize(handler), "concurrency_modifier": lambda current: slots, **options}
