"""A worker whose job takes ``input.sleep_s`` seconds (default 0.5) of serialized "GPU" work; it can
also fail on request, report progress, or crash its process (to test worker death).

Input: {"sleep_s": 0.5, "fail": false, "crash": false, "progress": false, "value": any}
"""

import os
import time

import runpod

from prefetch import gpu_section, start_options


def work(job):
    data = job["input"]
    if data.get("crash"):
        os._exit(9)  # simulates the process dying mid-job (OOM kill, segfault)
    if data.get("fail"):
        raise ValueError("input.fail was set: this handler fails on request")
    if data.get("progress"):
        runpod.serverless.progress_update(job, "half way")
    time.sleep(float(data.get("sleep_s", 0.5)))
    return {"value": data.get("value"), "pid": os.getpid()}


async def handler(job):
    return await gpu_section(work, job)


if __name__ == "__main__":
    runpod.serverless.start(start_options(handler))
