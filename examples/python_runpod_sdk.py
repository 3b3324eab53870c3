"""Generate images on a runpod-playbook endpoint with RunPod's Python SDK (`pip install runpod`).

Why `run` + `output(timeout=...)`: the SDK submits to /run and waits for the job itself (it asks /status
once a second), so this script has no loop of its own; `run_sync` would hide a failed job's error.

Usage:
    export RUNPOD_API_KEY=... RUNPOD_ENDPOINT_ID=...     # on RunPod
    eval "$(playbook local env)"                         # or the local platform
    python examples/python_runpod_sdk.py [job.json]      # a job body {"input": {...}}; default: a lighthouse
Environment: RUNPOD_ENDPOINT_BASE_URL (the SDK reads it; default https://api.runpod.ai/v2), OUT_DIR
(default outputs), TIMEOUT_S (default 600). Request format: worker/README.md.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

import requests
import runpod

DEFAULT_INPUT = {"prompt": "a lighthouse on a cliff at dusk, oil painting", "width": 512, "height": 512}


def main() -> None:
    runpod.api_key = os.environ.get("RUNPOD_API_KEY")
    endpoint_id = os.environ.get("RUNPOD_ENDPOINT_ID")
    if not runpod.api_key or not endpoint_id:
        sys.exit("error: set RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID (or run: eval \"$(playbook local env)\")")
    job_input = json.loads(Path(sys.argv[1]).read_text())["input"] if len(sys.argv) > 1 else DEFAULT_INPUT
    endpoint = runpod.Endpoint(endpoint_id)
    job = endpoint.run(job_input)  # the SDK wraps it as {"input": job_input}
    try:
        output = job.output(timeout=int(os.environ.get("TIMEOUT_S", 600)))
    except TimeoutError:
        sys.exit(f"error: job {job.job_id} did not finish in time; status {job.status()}")
    if output is None:  # FAILED, CANCELLED or TIMED_OUT: the reason is in the job's status body
        details = endpoint.rp_client.get(f"{endpoint_id}/status/{job.job_id}")
        sys.exit(f"error: job {job.job_id} {details['status']}: {str(details.get('error'))[:500]}")

    out_dir = Path(os.environ.get("OUT_DIR", "outputs"))
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(output["images"]):
        path = out_dir / f"{job.job_id}-{i}.{output.get('output_format', 'png')}"
        data = requests.get(image["url"], timeout=60).content if "url" in image else base64.b64decode(image["image"])
        path.write_bytes(data)
        print(f"saved {path} (seed {image['seed']})")


if __name__ == "__main__":
    main()
