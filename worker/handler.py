"""RunPod Serverless worker: text-to-image with any diffusers pipeline folder.

Why it looks like this: the pipeline loads once, when the worker starts (never per request), from
MODEL_PATH (default /runpod-volume/models/tiny-sd, i.e. a network volume), and the handler stays a few
lines; schema, loading, fitness and outputs live in ``imagegen/``. A missing or corrupt model does not
crash the import: the fitness check reports it by file name before the worker takes traffic.

Run it:
    python handler.py --test_input '{"input": {"prompt": "a lighthouse", "width": 64, "height": 64}}'
    python handler.py --rp_serve_api --rp_api_port 8000      # RunPod's local test server (/runsync)
    python handler.py                                        # on RunPod (or the playbook's local platform)
Environment: MODEL_PATH, WORKER_DEVICE (auto|cuda|cpu), WORKER_DTYPE (auto|fp16|bf16|fp32),
the speed options (imagegen/speed.py: WORKER_CHANNELS_LAST, WORKER_FUSE_QKV, WORKER_SDPA_BACKEND,
WORKER_COMPILE, WORKER_CUDA_GRAPHS, WORKER_COMPILE_CACHE), WORKER_PROGRESS_INTERVAL_S (default 1; 0: every
step), WORKER_MAX_OUTPUT_BYTES, BUCKET_ENDPOINT_URL / BUCKET_ACCESS_KEY_ID / BUCKET_SECRET_ACCESS_KEY / BUCKET_NAME.
"""

import os

from imagegen import timing

timing.mark("started")  # cold-start phases in the log (imagegen/timing.py)

# Before runpod is imported: its logger reads the level once, and at DEBUG it prints whole base64 results.
os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from imagegen import boot  # noqa: E402

sdk = boot.import_in_background("runpod")  # its import (a cpuinfo subprocess) overlaps the model load

import prefetch  # noqa: E402  (WORKER_PREFETCH=1: take the next job while one runs; see prefetch.py)
from imagegen.service import Worker  # noqa: E402
from imagegen.steps import Throttle, progress_interval_s  # noqa: E402

timing.mark("imported")
worker = Worker.start()  # reads MODEL_PATH, loads, warms up; never raises, a problem is kept for the fitness check
timing.mark("model_loaded")
runpod = sdk.result()  # imported in the background meanwhile


@runpod.serverless.register_fitness_check
def model_files_are_usable():
    worker.check_fitness()
    timing.mark("fitness_checked")


POSTS_PROGRESS = bool(os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT"))  # only a platform has somewhere to post to
PROGRESS_INTERVAL_S = progress_interval_s(os.environ)


def handler(job):
    def on_step(step, steps):
        runpod.serverless.progress_update(job, {"step": step, "steps": steps})

    # at most one update per WORKER_PROGRESS_INTERVAL_S (the SDK starts a thread and an HTTP post for each, while
    # the host should be launching kernels; imagegen/steps.py), and always the last step
    return worker.handle(job, Throttle(on_step, PROGRESS_INTERVAL_S) if POSTS_PROGRESS else None)


if __name__ == "__main__":
    runpod.serverless.start(prefetch.start_options(handler))
