"""A worker whose job takes ``input.sleep_s`` seconds (default 0.5), standing in for GPU work; it can
also fail on request, report progress, or crash its process (to test worker death). Its handler is
async (heavy work in a thread) like prefetching workers, so a cancel stops it at once.

Input: {"sleep_s": 0.5, "fail": false, "crash": false, "progress": false, "value": any}
WORKER_PREFETCH=1 uses the worker's prefetch setting (worker/prefetch.py).
"""

import os
import sys
import time
from pathlib import Path

import runpod

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "worker"))
import prefetch  # noqa: E402


def work(job):
    data = job["input"]
    if data.get("crash"):
        os._exit(9)  # the process dies mid-job (OOM kill, segfault)
    if data.get("fail"):
        raise ValueError("input.fail was set: this handler fails on request")
    if data.get("progress"):
        runpod.serverless.progress_update(job, "half way")
    time.sleep(float(data.get("sleep_s", 0.5)))
    return {"value": data.get("value"), "pid": os.getpid()}


if __name__ == "__main__":
    options = prefetch.start_options(work)
    if "concurrency_modifier" not in options:  # still async, so that a cancel interrupts it
        options["handler"] = prefetch.serialize(work)
    runpod.serverless.start(options)
