"""Generate images on a runpod-playbook endpoint with plain `requests` (no RunPod SDK).

Why /runsync then /status: /runsync holds the request until the job ends or `wait` ms pass (1000 to
300000); a cold worker can take longer, and then the job comes back IN_QUEUE or IN_PROGRESS with its id,
so we ask /status with a growing pause (0.2 s doubling to 5 s) rather than a fixed sleep.

Usage:
    export RUNPOD_API_KEY=... RUNPOD_ENDPOINT_ID=...     # on RunPod
    eval "$(playbook local env)"                         # or the local platform
    python examples/python_requests.py [job.json]        # a job body {"input": {...}}; default: a lighthouse
Environment: RUNPOD_ENDPOINT_BASE_URL (default https://api.runpod.ai/v2), OUT_DIR (default outputs),
TIMEOUT_S (default 600), WAIT_MS (how long /runsync holds, default 90000). Request format: worker/README.md.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

import requests

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}
DEFAULT_JOB = {"input": {"prompt": "a lighthouse on a cliff at dusk, oil painting", "width": 512, "height": 512}}


def wait_for_job(session: requests.Session, base: str, body: dict, timeout_s: float) -> dict:
    """Submit with /runsync, then poll /status with a growing pause until the job is terminal."""
    deadline = time.monotonic() + timeout_s
    wait_ms = int(os.environ.get("WAIT_MS", 90000))
    reply = session.post(f"{base}/runsync", params={"wait": wait_ms}, json=body, timeout=wait_ms / 1000 + 30)
    job = reply.json()
    if "status" not in job:
        sys.exit(f"error: the endpoint answered HTTP {reply.status_code}: {reply.text[:300]}")
    pause = 0.2
    while job["status"] not in TERMINAL:
        if time.monotonic() > deadline:
            sys.exit(f"error: job {job['id']} still {job['status']} after {timeout_s:.0f} s; "
                     f"its status: {base}/status/{job['id']}")
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
        job = session.get(f"{base}/status/{job['id']}", timeout=30).json()
    return job


def save_images(job: dict, out_dir: Path) -> list[Path]:
    """Decode each image (base64, or download it when the worker returned bucket URLs) into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = job["output"]
    saved = []
    for i, image in enumerate(output["images"]):
        path = out_dir / f"{job['id']}-{i}.{output.get('output_format', 'png')}"
        # a bucket configured on the endpoint makes the worker return URLs instead of base64
        data = requests.get(image["url"], timeout=60).content if "url" in image else base64.b64decode(image["image"])
        path.write_bytes(data)
        print(f"saved {path} (seed {image['seed']})")
        saved.append(path)
    return saved


def main() -> None:
    key, endpoint_id = os.environ.get("RUNPOD_API_KEY"), os.environ.get("RUNPOD_ENDPOINT_ID")
    if not key or not endpoint_id:
        sys.exit("error: set RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID (or run: eval \"$(playbook local env)\")")
    base = os.environ.get("RUNPOD_ENDPOINT_BASE_URL", "https://api.runpod.ai/v2").rstrip("/") + f"/{endpoint_id}"
    body = json.loads(Path(sys.argv[1]).read_text()) if len(sys.argv) > 1 else DEFAULT_JOB
    session = requests.Session()
    session.headers["authorization"] = key
    job = wait_for_job(session, base, body, float(os.environ.get("TIMEOUT_S", 600)))
    if job["status"] != "COMPLETED":
        sys.exit(f"error: job {job['id']} {job['status']}: {str(job.get('error', 'no error given'))[:500]}")
    save_images(job, Path(os.environ.get("OUT_DIR", "outputs")))


if __name__ == "__main__":
    main()
