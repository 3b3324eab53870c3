"""What a worker process is given to find this platform: the RUNPOD_* variables of RunPod's worker protocol,
pointing the real ``runpod`` worker loop at the platform's worker API (``servers/worker_api.py``)."""

from __future__ import annotations


def worker_env(platform, endpoint_id: str, worker_id: str) -> dict:
    """The RUNPOD_* variables that put the real worker loop on this platform."""
    base = f"{platform.url}/v2/{endpoint_id}"
    query = "?gpu=CPU"
    return {
        "RUNPOD_WEBHOOK_GET_JOB": f"{base}/job-take/$ID{query}",
        "RUNPOD_WEBHOOK_POST_OUTPUT": f"{base}/job-done/{worker_id}/$ID{query}",
        "RUNPOD_WEBHOOK_POST_STREAM": f"{base}/job-stream/{worker_id}/$ID{query}",
        "RUNPOD_WEBHOOK_PING": f"{base}/ping/{worker_id}{query}",
        "RUNPOD_PING_INTERVAL": "2000",
        "RUNPOD_POD_ID": worker_id,
        "RUNPOD_ENDPOINT_ID": endpoint_id,
        "RUNPOD_AI_API_KEY": platform.worker_key,
        "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_SKIP_GPU_CHECK": "true",
        "RUNPOD_LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
    }
