"""The first job: one /runsync that proves the endpoint, its image, its volume and its GPU pool fit together."""

from __future__ import annotations

from playbook.api.control import ControlClient

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def smoke_test(client: ControlClient, endpoint_id: str, payload: dict, timeout_s: float = 180,
               finish_timeout_s: float = 600) -> dict:
    """Send one job with /runsync and return RunPod's status body (id, status, delayTime, executionTime,
    output): the first job proves the endpoint, its image, its volume and its GPU pool fit together. A
    refusal is an ``HttpError`` (a ``PlatformError``) with the job API's reason and what to do.

    /runsync answers IN_QUEUE or IN_PROGRESS when the job outlasts its wait (a slow cold start on a busy host);
    the job then goes on, and its ``/status`` is followed for up to ``finish_timeout_s`` more seconds, so the
    answer is the job's end, never a job left half-way (``WaitTimeout`` names it past that)."""
    from playbook.api.http import HttpClient
    from playbook.core.waiting import wait_for

    jobs = HttpClient(client.target.job_api_url, client.target.api_key, target=client.target.name,
                      timeout_s=timeout_s + 10, retries=2, api="job")
    body = jobs.request("POST", f"/{endpoint_id}/runsync", json=payload,
                        params={"wait": int(min(timeout_s, 300) * 1000)})
    if body.get("status") in TERMINAL or "id" not in body:
        return body

    def ended():
        status = jobs.request("GET", f"/{endpoint_id}/status/{body['id']}")
        return status if status.get("status") in TERMINAL else None

    return wait_for(ended, finish_timeout_s, what=f"job {body['id']} of endpoint {endpoint_id} to end",
                    interval_s=0.5, max_interval_s=5)
