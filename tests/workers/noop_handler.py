"""A no-op worker: returns its input at once. For the platform's tests and the overhead benchmark.
WORKER_PREFETCH=1 uses the worker's prefetch setting (worker/prefetch.py)."""

import sys
from pathlib import Path

import runpod

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "worker"))
import prefetch  # noqa: E402


def handler(job):
    return {"echo": job["input"]}


if __name__ == "__main__":
    runpod.serverless.start(prefetch.start_options(handler))
