"""Reports what a worker can see of its host: whether the user's RunPod key leaked into its environment
and whether the runpod SDK would find ~/.runpod/config.toml credentials."""

import os
from pathlib import Path

import runpod


def handler(job):
    return {
        "has_runpod_api_key": "RUNPOD_API_KEY" in os.environ,
        "has_runpod_credentials": (Path.home() / ".runpod" / "config.toml").exists(),
    }


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
