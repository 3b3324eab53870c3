"""A streaming (generator) worker: yields ``input.chunks`` pieces, ``input.pause_s`` apart."""

import time

import runpod


def handler(job):
    for i in range(int(job["input"].get("chunks", 3))):
        time.sleep(float(job["input"].get("pause_s", 0.05)))
        yield {"chunk": i}


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler, "return_aggregate_stream": True})
