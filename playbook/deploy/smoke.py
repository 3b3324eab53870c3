"""The first job: one /runsync that proves the endpoint, its image, its volume and its GPU pool fit together."""

from __future__ import annotations

from playbook.api.control import ControlClient


def smoke_test(client: ControlClient, endpoint_id: str, payload: dict, timeout_s: float = 180) -> dict:
    """Send one job with /runsync and return RunPod's status body (id, status, delayTime, executionTime,
    output): the first job proves the endpoint, its image, its volume and its GPU pool fit together. A
    refusal is an ``HttpError`` (a ``PlatformError``) with the job API's reason and what to do."""
    from playbook.api.http import HttpClient

    jobs = HttpClient(client.target.job_api_url, client.target.api_key, target=client.target.name,
                      timeout_s=timeout_s + 10, retries=2, api="job")
    return jobs.request("POST", f"/{endpoint_id}/runsync", json=payload,
                        params={"wait": int(min(timeout_s, 300) * 1000)})
