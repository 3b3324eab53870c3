"""Notebook 00's first endpoint, reached through the target as every notebook reaches its platform.

On the local platform the quickstart endpoint is made through RunPod's REST API v2 like any other; its image
name is one no Docker daemon has, so the lenient local platform runs the demo worker (worker/handler.py) as a
local process, and its system log says so. On RunPod (or a strict stand-in) a worker runs only an image pulled
from a registry, and there is none before notebook 04 pushes one: the first job is left to 05, the notebook
says so in one line, and the one call made there is the one that proves the key works (listing endpoints)."""

from __future__ import annotations

from playbook.api.control import ControlClient

NAME = "playbook-quickstart"
# a name no Docker daemon has: the (lenient) local platform runs worker/handler.py as a local process
PROCESS_IMAGE = "local/playbook-worker:1"


def create_endpoint(client: ControlClient, pool: str, idle_timeout_s: int = 5) -> dict | None:
    """The quickstart endpoint (zero workers, at most one, QUEUE_DELAY scaling), or None on RunPod after one
    line that says why and what the key reached."""
    if client.target.name != "local":
        count = len(client.list_endpoints())
        print(f"skipped on RunPod: a job there needs your image in a registry (04 pushes it, 05 deploys it and "
              f"sends the first job); REST API v2 accepted the key and lists {count} endpoint(s) in the account")
        return None
    return client.create_endpoint({
        "name": NAME, "type": "QUEUE", "image": PROCESS_IMAGE, "gpu": {"pools": [pool]},
        "workers": {"min": 0, "max": 1, "idleTimeout": int(idle_timeout_s)},
        "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})


def delete_endpoint(client: ControlClient, endpoint: dict | None) -> None:
    """Delete the quickstart endpoint (nothing of it stays on the platform); None: nothing was made."""
    if endpoint is not None:
        client.delete_endpoint(endpoint["id"])
