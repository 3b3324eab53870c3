"""Which Docker daemon and registry the playbook talks to.

Why a module of its own: the build phase, the Docker runner of the local platform, the notebooks and
the tests must all find the same daemon without anyone exporting variables. The order is: DOCKER_HOST
from the environment (or .env), then the daemon that ``scripts/services.sh`` started (it records its
socket and registry in ``$PLAYBOOK_DOCKER_DIR/services.env``), then Docker's default socket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from playbook.core import settings
from playbook.core.errors import BuildError
from playbook.core.html import fields_table
from playbook.core.secrets import lookup, read_dotenv

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
LOCAL_BASE_IMAGE = "local/python:3.11-slim"  # built by scripts/services.sh with debootstrap


def services_dir() -> Path:
    return settings.docker_services_dir()


def services_env() -> dict[str, str]:
    """What scripts/services.sh recorded (empty when it has not run here)."""
    return read_dotenv(services_dir() / "services.env")


def docker_host() -> str:
    """The daemon address: DOCKER_HOST, else the services.sh daemon, else Docker's default socket."""
    explicit = lookup("DOCKER_HOST")
    if explicit:
        return explicit.reveal()
    return services_env().get("DOCKER_HOST") or DEFAULT_SOCKET


def registry_address() -> str | None:
    """host:port of the image registry: PLAYBOOK_REGISTRY, else the one services.sh started."""
    return settings.registry_address() or services_env().get("PLAYBOOK_REGISTRY")


def local_base_image() -> str:
    return services_env().get("PLAYBOOK_BASE_IMAGE") or LOCAL_BASE_IMAGE


@dataclass(frozen=True)
class DaemonStatus:
    """Whether a daemon answers, and if not, why and what to do."""

    available: bool
    host: str
    version: str = ""
    reason: str = ""

    def sentence(self) -> str:
        """One sentence for a reader: which daemon answers, or that none does and how to start one (the
        exception behind it stays in ``reason``, for logs and tests)."""
        if self.available:
            return f"Docker {self.version} answers at {self.host}."
        return (f"No Docker daemon answers at {self.host}: start one with `sudo scripts/services.sh` (or point "
                "DOCKER_HOST at one).")

    def _repr_html_(self) -> str:
        return fields_table({"Docker daemon": self.host, "state": f"up, Docker {self.version}" if self.available
                             else "not reachable (`sudo scripts/services.sh` starts one)"})


@lru_cache(maxsize=4)
def _client_for(host: str):
    import docker

    return docker.DockerClient(base_url=host, timeout=600)


def client():
    """A docker SDK client for ``docker_host()``; raises BuildError with the fix when none answers."""
    status = daemon_status()
    if not status.available:
        raise BuildError(f"no Docker daemon at {status.host}: {status.reason}")
    return _client_for(status.host)


def daemon_status() -> DaemonStatus:
    """Ping the daemon with a short timeout (an unreachable DOCKER_HOST must not hang a notebook)."""
    import docker

    host = docker_host()
    try:
        with docker.APIClient(base_url=host, timeout=5, version="auto") as api:
            version = api.version().get("Version", "?")
    except Exception as exc:  # the SDK raises several types for a missing socket or a dead daemon
        _client_for.cache_clear()
        reason = (f"{type(exc).__name__}: {str(exc)[:200]}. Start one with `sudo scripts/services.sh` "
                  "(installs docker.io, starts dockerd and a registry on loopback) or set DOCKER_HOST.")
        return DaemonStatus(False, host, reason=reason)
    return DaemonStatus(True, host, version=version)


def image_exists(reference: str) -> bool:
    """Whether the daemon has the image locally (False when there is no daemon at all)."""
    import docker

    if not daemon_status().available:
        return False
    try:
        client().images.get(reference)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError:
        return False
    return True


THROWAWAY_LABEL = "runpod-playbook.throwaway"  # on run_and_read's containers; its value: the pid that ran it


@dataclass(frozen=True)
class ContainerOutput:
    """What a throwaway container printed, and how it ended."""

    image: str
    exit_code: int
    stdout: str
    stderr: str


def run_and_read(image: str, command: list[str], timeout_s: float = 600, check: bool = True,
                 **create_options) -> ContainerOutput:
    """Run ``command`` in a throwaway container of ``image`` and read what it printed: the container is created
    and started detached, waited for, its logs are read once it has exited, then it is removed (always).
    ``create_options`` go to the SDK's ``containers.create`` (user, working_dir, volumes, environment...).
    With ``check``, a non-zero exit raises BuildError with the end of its stderr.

    Why not ``containers.run(..., remove=True)``: the docker SDK (7.x) opens a followed log stream before the
    wait but reads it only after it has removed the container, so the output it returns is sometimes empty
    (8 empty reads in 20 of ``cat /opt/deps/build-info.json`` here, the file being there every time)."""
    import docker
    import requests

    docker_client = client()
    try:
        labels = {**create_options.pop("labels", {}), THROWAWAY_LABEL: str(os.getpid())}
        container = docker_client.containers.create(image, command, labels=labels, **create_options)
    except docker.errors.ImageNotFound:
        raise BuildError(f"image {image} is not in the Docker daemon at {docker_host()}: build or pull it "
                         "first") from None
    try:
        container.start()
        try:
            exit_code = int(container.wait(timeout=timeout_s)["StatusCode"])
        except requests.exceptions.RequestException:  # the wait's read timed out: the container still runs
            raise BuildError(f"{' '.join(command)[:200]} in {image} did not finish within {timeout_s:g} s") from None
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True)
    if check and exit_code != 0:
        raise BuildError(f"{' '.join(command)[:200]} in {image} exited with {exit_code}: {stderr[-1500:].strip()}")
    return ContainerOutput(image, exit_code, stdout, stderr)
