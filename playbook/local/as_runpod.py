"""The variables that point the runpod target at a local platform: the rehearsal of a RunPod run on loopback.

``playbook local env --as-runpod`` prints them; with them set, ``resolve_target("runpod")`` (and the runpod
SDK, which reads the same RUNPOD_API_BASE_URL and RUNPOD_ENDPOINT_BASE_URL) talks to the local platform
exactly as it would to RunPod: the job API, REST v2 and each data center's S3 API, with the platform's own
key (never a RunPod key) and its S3 key pair."""

from __future__ import annotations

from playbook.core.config import API_BASE_URL_ENV, ENDPOINT_BASE_URL_ENV, S3_ENDPOINT_URL_ENV, Target
from playbook.local.servers.s3_api import LOCAL_ACCESS_KEY


def runpod_variables(target: Target) -> dict[str, str]:
    """RUNPOD_* variable -> value, for the local platform ``target`` (its key in clear: for export lines)."""
    if target.name != "local":
        raise ValueError("runpod_variables() takes the local platform's target (playbook.core.config.local_target())")
    key = target.api_key.reveal()
    return {
        "RUNPOD_API_KEY": key,
        API_BASE_URL_ENV: target.control_api_url.rstrip("/").removesuffix("/v2"),
        ENDPOINT_BASE_URL_ENV: target.job_api_url.rstrip("/"),
        S3_ENDPOINT_URL_ENV: target.s3_endpoint_url("{dc}"),
        "RUNPOD_S3_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "RUNPOD_S3_SECRET_ACCESS_KEY": key,
    }
