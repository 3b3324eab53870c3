"""The local platform: RunPod's serverless job API and worker protocol on loopback, with a scaler
that starts workers when jobs queue and stops them after the idle timeout.

    import playbook.local
    with playbook.local.start() as platform:          # or platform = playbook.local.start() ... .stop()
        ep = platform.create_endpoint(playbook.local.EndpointConfig(name="demo", workers_max=2))
        # platform.target is a playbook.core.config.Target for playbook.api.jobs / runpod.Endpoint
"""

from __future__ import annotations

from playbook.local.as_runpod import runpod_variables
from playbook.local.platform import LocalPlatform, WorkerInfo
from playbook.local.runtime.endpoints import EndpointConfig
from playbook.local.servers.control_api.volumes import volume_folder
from playbook.local.supervision.docker_runner import list_containers
from playbook.local.supervision.runners import choose_runner


def start(port: int = 0, record: bool = True, **kwargs) -> LocalPlatform:
    """Start a local platform on 127.0.0.1:``port`` (0: any free port). With ``record`` it writes the
    state file that ``playbook.core.config.resolve_target()`` reads. Use as a context manager or call stop()."""
    return LocalPlatform(port=port, record=record, **kwargs).start()


__all__ = ["start", "LocalPlatform", "EndpointConfig", "WorkerInfo", "volume_folder", "list_containers",
           "choose_runner", "runpod_variables"]
