"""Constants the whole playbook shares: RunPod's job states, its payload limits (in bytes, one unit), and
where a model lives on a volume. One place, so the client, the local platform and the notebooks agree.

Environment variables (``PLAYBOOK_*``) are read where they are documented in ``config.py``; this module
holds only values that never change at run time.
"""

from __future__ import annotations

from pathlib import PurePosixPath

# Job states (RunPod's job API). A terminal state is final: nothing reopens the job.
IN_QUEUE, IN_PROGRESS = "IN_QUEUE", "IN_PROGRESS"
COMPLETED, FAILED, CANCELLED, TIMED_OUT = "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"
TERMINAL = (COMPLETED, FAILED, CANCELLED, TIMED_OUT)
JOB_STATES = (IN_QUEUE, IN_PROGRESS, *TERMINAL)

# Payload limits of RunPod's job API, in bytes (RunPod writes "10 MB" and "20 MB"; we count MiB like its
# servers, which is the stricter reading for a client and the one the local platform enforces).
RUN_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
RUNSYNC_PAYLOAD_LIMIT_BYTES = 20 * 1024 * 1024

# Where serverless workers see the network volume, and where models go on it.
VOLUME_MOUNT = "/runpod-volume"
MODELS_DIR = "models"


def model_dir(volume: str | PurePosixPath = VOLUME_MOUNT, name: str = "tiny-sd"):
    """The folder of model ``name`` on a volume: ``<volume>/models/<name>``. ``volume`` may be the mount
    path a worker sees (a string, the default) or a local folder (a ``Path``); the result has its type."""
    if isinstance(volume, str):
        return f"{volume.rstrip('/')}/{MODELS_DIR}/{name}"
    return volume / MODELS_DIR / name
