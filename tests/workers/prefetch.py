"""Prefetching for runpod workers: no dead time between jobs.

Why: at the default concurrency of 1 the SDK's job scaler sleeps 1 s after each job take before it
asks for the next job, so a worker doing 2 s jobs sits idle a third of the time. With
WORKER_PREFETCH=1 the worker declares a concurrency of 2 (``concurrency_modifier``) so the SDK holds
the next job while the current one runs, and an asyncio lock (``gpu_section``) keeps the heavy work
strictly one at a time, so memory use is that of one job. The handler must be async for this.
The cost: a prefetched job waits on this worker even if another worker is idle.
"""

import asyncio
import os

PREFETCH = os.environ.get("WORKER_PREFETCH", "0").lower() in ("1", "true", "yes")
_lock = None


async def gpu_section(fn, *args):
    """Run ``fn(*args)`` in a thread, one call at a time per worker process."""
    global _lock
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        return await asyncio.to_thread(fn, *args)


def start_options(handler) -> dict:
    options = {"handler": handler}
    if PREFETCH:
        options["concurrency_modifier"] = lambda current: 2
    return options
