"""Connecting to a target: the local platform (started in this process when none answers) or RunPod. The one
place where phase code reaches the local platform, through its public interface ``playbook.local``."""

from __future__ import annotations

from collections.abc import Callable

from playbook.api.control import ControlClient
from playbook.core.config import Target
from playbook.core.errors import ConfigError


def start_in_process():
    """A local platform inside this process: for notebooks, which run headless without `playbook local up`."""
    import playbook.local

    return playbook.local.start(record=True).target


def connect(target: str | None = "auto", start_local: Callable[[], Target] | None = start_in_process) -> ControlClient:
    """A client for the target, after printing which one it is. On the local target, when no recorded
    platform answers, ``start_local()`` starts one and returns its Target (None: raise instead)."""
    from playbook.core.config import resolve_target, target_name
    from playbook.core.errors import Unreachable

    name = target_name(target)
    local = name == "local"
    client = None
    try:
        client = ControlClient(resolve_target(name), retries=0, timeout_s=5)
        if local:
            client.datacenters()  # is the recorded platform alive?
    except (ConfigError, Unreachable):  # none recorded, or it does not answer (a refusal is raised as is)
        if not (local and start_local):
            raise
        client = None
    if client is None:
        client = ControlClient(start_local())
    client.retries, client.timeout_s = 4, 30.0
    print(f"target: {client.target.name} ({client.target.control_api_url})")
    return client


def local_volume_path(client: ControlClient, volume_id: str):
    """The folder that stands for the network volume on the local platform (its workers' /runpod-volume)."""
    if client.target.name != "local":
        raise ConfigError("network volumes on RunPod are filled through RunPod's S3-compatible API per data "
                          "center (or a pod mounting the volume at /workspace), not a local folder.")
    from playbook.local import volume_folder

    return volume_folder(volume_id)
