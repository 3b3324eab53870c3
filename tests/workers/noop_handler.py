"""A no-op worker: returns its input at once. For the platform's tests and the overhead benchmark.

WORKER_PREFETCH=1 turns on the prefetch mechanism (see prefetch.py): the SDK takes the next job while
one runs, so the SDK's 1 s pause after a job take does not leave the worker idle.
"""

import runpod

from prefetch import start_options


def handler(job):
    return {"echo": job["input"]}


if __name__ == "__main__":
    runpod.serverless.start(start_options(handler))
