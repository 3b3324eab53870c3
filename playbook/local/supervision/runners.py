"""How a worker runs: a small swappable piece so that the same platform can run a worker as a local
Python process (here) or as the built Docker image (``docker_runner``, chosen by ``choose_runner``).

A runner has one method, ``start(worker_id, endpoint, env, log_path) -> WorkerHandle``; a handle
answers ``alive()``, ``stop(timeout_s)`` (SIGTERM, the way RunPod stops a worker, then SIGKILL) and
``kill()``. Why the care about process groups: the runpod SDK forks a heartbeat process; killing only
the worker would orphan it, so a worker runs in its own process group and the whole group goes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from playbook.core.secrets import KNOWN_SECRETS
from playbook.core.settings import LIFELINE_FD_VAR
from playbook.core.waiting import WaitTimeout, wait_for
from playbook.local.runtime.endpoints import EndpointConfig

LAUNCHER = Path(__file__).with_name("launch.py")


class WorkerHandle(Protocol):
    def alive(self) -> bool: ...
    def stop(self, timeout_s: float = 5.0) -> None: ...
    def kill(self) -> None: ...


class Runner(Protocol):
    name: str

    def start(self, worker_id: str, endpoint: EndpointConfig, env: dict, log_path: Path) -> WorkerHandle: ...


class ProcessHandle:
    """A worker process in its own process group, watched by a pipe that closes when the platform dies.
    ``poll()`` gives its exit code, or None while it runs: ``Popen.poll`` for a process this platform started,
    the fork server's report for one it forked (``forking``)."""

    def __init__(self, pid: int, lifeline_fd: int, log_path: Path, poll: Callable[[], int | None]):
        self.pid = pid
        self.log_path = log_path
        self._poll = poll
        self._lifeline_fd = lifeline_fd  # closing it tells the launcher to kill its group

    @property
    def returncode(self) -> int | None:
        return self._poll()

    def alive(self) -> bool:
        return self._poll() is None

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _close_lifeline(self) -> None:
        if self._lifeline_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lifeline_fd)
            self._lifeline_fd = -1

    def _wait(self, timeout_s: float) -> None:
        with contextlib.suppress(WaitTimeout):
            wait_for(lambda: not self.alive(), timeout_s, what="the worker to exit", interval_s=0.02,
                     max_interval_s=0.1)

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM (the SDK finishes its loop), then SIGKILL the whole group after ``timeout_s``."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            self._wait(timeout_s)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the worker and everything it forked (the SDK's heartbeat process included)."""
        self._signal_group(signal.SIGKILL)
        self._close_lifeline()
        self._wait(5.0)


def worker_base_env(home: Path) -> dict[str, str]:
    """The host environment a local worker process starts from: without the playbook's secrets (a local
    worker has no business holding the user's real RunPod key), and with a HOME of its own, because the
    runpod SDK authenticates to the platform with ~/.runpod/config.toml's api_key, when that file
    exists, instead of RUNPOD_AI_API_KEY: a developer's real RunPod credentials would get 401s here."""
    home.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key not in KNOWN_SECRETS}
    env["HOME"] = str(home)
    return env


def _say_where_the_volume_is(endpoint: EndpointConfig, log_path: Path) -> None:
    """A process cannot mount the volume at /runpod-volume: the system log says which local folder stands in
    for it (paths under /runpod-volume in the endpoint's env are rewritten to it), so that a reader can
    show the worker's paths as they would be on RunPod."""
    from playbook.core.config import VOLUME_MOUNT
    from playbook.local.runtime.worker_logs import write_system_line

    volumes = ((endpoint.extra or {}).get("rest") or {}).get("networkVolumes") or ["(the local default)"]
    write_system_line(log_path, f"network volume {volumes[0]} mounted at {VOLUME_MOUNT} (local folder "
                                f"{endpoint.volume_dir}); the worker runs as a local process, not in a container")
    if endpoint.image:
        write_system_line(log_path, f"image {endpoint.image} is not in a local Docker daemon (or none runs): the "
                                    f"worker runs {endpoint.handler_path.name} as a local Python process instead "
                                    "(the lenient local default; RunPod, and `playbook local up --strict`, would "
                                    "fail to pull it and not start the worker)")


class ProcessRunner:
    """Runs ``python <endpoint.handler_path>`` through ``launch.py`` with this interpreter, or forks it from the
    platform's warm fork server for the handler's folder where there is one (``forking``: the same worker,
    without re-importing what the folder's ``preimport.py`` imports)."""

    name = "process"

    def __init__(self, forkservers=None):
        self.forkservers = forkservers  # the platform's forking.Forkservers (None: every worker starts cold)

    def start(self, worker_id: str, endpoint: EndpointConfig, env: dict, log_path: Path):
        handler = Path(endpoint.handler_path).resolve()  # the worker runs in the handler's folder: a relative path
        if not handler.is_file():                         # would then name another file (or none)
            from playbook.core.errors import ConfigError

            raise ConfigError(f"endpoint {endpoint.id}: handler_path {handler} does not exist; "
                              "point EndpointConfig.handler_path at a worker handler file.")
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        _say_where_the_volume_is(endpoint, log_path)
        home = self.forkservers.home if self.forkservers is not None else log_path.parent / "home"
        full_env = {**worker_base_env(home), **env, "PYTHONUNBUFFERED": "1"}
        server = self.forkservers.server_for(handler, full_env) if self.forkservers is not None else None
        if server is not None:
            from playbook.local.runtime.worker_logs import write_system_line

            handle = server.fork(handler, full_env, handler.parent, log_path)
            write_system_line(log_path, f"forked from the platform's warm process, which imported "
                                        f"{handler.parent.name}/preimport.py and read the CPU's description once: "
                                        "this start has no import phase "
                                        "(a container on RunPod, or PLAYBOOK_WORKER_FORK=0, imports those modules "
                                        "itself)")
            return handle
        read_fd, write_fd = os.pipe()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, str(LAUNCHER), str(handler)],
                env={**full_env, LIFELINE_FD_VAR: str(read_fd)}, cwd=str(handler.parent), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(read_fd,),
            )
        os.close(read_fd)
        return ProcessHandle(proc.pid, write_fd, log_path, proc.poll)


class RefusedRunner:
    """Strict mode's answer where the lenient default would run a substitute process: the worker does not
    start, and its system log says why as RunPod's does (``error creating container: ...``)."""

    name = "refused"

    def __init__(self, reason: str):
        self.reason = reason

    def start(self, worker_id: str, endpoint: EndpointConfig, env: dict, log_path: Path) -> WorkerHandle:
        from playbook.core.errors import PlatformError
        from playbook.local.runtime.worker_logs import write_system_line

        write_system_line(log_path, f"error creating container: {self.reason}")
        raise PlatformError(self.reason)


def choose_runner(endpoint: EndpointConfig, stock=None,
                  current_fault: Callable[[str], str | None] = lambda endpoint_id: None, *,
                  strict: bool = False, containers=None, forkservers=None) -> Runner:
    """The one place that decides how an endpoint's workers run.

    A worker that cannot be placed or pulled (``playbook.local.runtime.faults``) gets no process at all.
    Strict (``playbook local up --strict``): a worker runs its endpoint's image, pulled from its registry
    every time, as on RunPod, or it does not start (``RefusedRunner``, or the pull's own error); never a
    substitute process. The lenient default: the Docker runner (``playbook.local.supervision.docker_runner``)
    when the endpoint names an image that the local Docker daemon has or a registry reference; otherwise a
    local Python process runs the handler, and the worker's system log says so. An endpoint with a
    process-side fault (a crash loop, OOM, a slow start, a hang) runs as a process even then: the launcher
    (``launch.py``) is what carries the fault out, and it does not run in the image (strict mode refuses it).
    ``stock``: the control API's stock table; ``current_fault(endpoint_id)``: the endpoint's placement
    fault as now configured (a fault worker goes away when it is gone); ``containers``: the platform's
    ``docker_runner.Containers``, which its shutdown sweeps; ``forkservers``: the platform's
    ``forking.Forkservers``, from which a process worker is forked where its folder allows it.
    """
    from playbook.image import dockerhost
    from playbook.local.runtime import faults
    from playbook.local.supervision import docker_runner

    fault = faults.placement_fault(endpoint, stock)  # no GPU stock, image pull pending, driver too old
    if fault:
        return faults.FaultRunner(fault, current_fault)
    if strict:
        return _strict_runner(endpoint, containers)
    if endpoint.image and not faults.fault_of(endpoint) and (
            docker_runner.image_available(endpoint.image)
            or (docker_runner.registry_reference(endpoint.image) and dockerhost.daemon_status().available)):
        return docker_runner.DockerRunner(containers)  # a registry reference is pulled; a failed pull is logged
    return ProcessRunner(forkservers)


def _strict_runner(endpoint: EndpointConfig, containers) -> Runner:
    from playbook.image import dockerhost
    from playbook.local.runtime import faults
    from playbook.local.supervision import docker_runner

    if not endpoint.image:
        return RefusedRunner("the endpoint names no image (a RunPod worker runs its endpoint's image)")
    if faults.fault_of(endpoint):
        return RefusedRunner(f"PLAYBOOK_FAULT={faults.fault_of(endpoint)} is carried out by a local process, which "
                             "the strict stand-in never runs; break the image itself to rehearse this fault")
    status = dockerhost.daemon_status()
    if not status.available:
        return RefusedRunner(f"image pull: {endpoint.image}: no Docker daemon to pull it with ({status.reason})")
    return docker_runner.DockerRunner(containers, always_pull=True)
