"""Workers as containers of the built image: the local platform runs the very image that goes to RunPod.

Why: a handler that works as a local process can still fail in its image (a missing dependency, a path
that only exists on the laptop, the wrong architecture). ``choose_runner`` picks this runner when an
endpoint names an image that the local Docker daemon has, so a deploy on the local platform exercises
the image itself.

How a container is set up, mirroring a RunPod serverless worker:
- ``--network=host``: the worker reaches the platform on 127.0.0.1 with the same RUNPOD_WEBHOOK_* URLs a
  process worker gets (the sandbox daemon has no bridge network anyway);
- the endpoint's volume folder bind-mounted at ``/runpod-volume``; environment values that point into
  that folder (MODEL_PATH ...) are rewritten to the mount path;
- only the worker protocol's environment and the endpoint's env: nothing from the host environment;
- ``init`` (tini) as PID 1 so SIGTERM reaches the worker as it does on RunPod.
Containers carry labels (endpoint, worker, owning process) and are removed when they stop, on scale-down and
on platform shutdown (the platform owns a ``Containers`` registry, handed to the runner it builds, and sweeps it
when it stops, at interpreter exit included); ``remove_containers()`` sweeps any left by a crash.

Strict mode (``always_pull``): a RunPod host has only its registry, never the laptop's daemon, so every worker
pulls its image by name or digest first; a failed pull is the worker's ``error creating container: image pull:
...`` system line (docs/runpod-facts.md §8) and it does not start.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import threading
import time
from pathlib import Path

from playbook.core.config import VOLUME_MOUNT
from playbook.core.errors import PlatformError
from playbook.image import dockerhost

LABEL = "io.runpod-playbook.worker"
LABEL_ENDPOINT = "io.runpod-playbook.endpoint"
LABEL_OWNER = "io.runpod-playbook.owner-pid"



def registry_reference(image: str | None) -> bool:
    """Whether ``image`` names its registry (``127.0.0.1:5000/w:1``, ``ghcr.io/o/w:1``): such an image is
    pulled for real when a daemon runs, and a failed pull is the worker's error, as on RunPod. Short names
    (``local/playbook-worker:1``, ``me/worker:1``) may fall back to a local process (see ``choose_runner``)."""
    first = (image or "").split("/", 1)[0]
    return "/" in (image or "") and ("." in first or ":" in first or first == "localhost")


def pull(image: str) -> None:
    """Pull ``image`` into the local daemon; a failure is ``image pull: <image>: <Docker's own message>``."""
    try:
        dockerhost.client().images.pull(image)  # the SDK reads repo:tag and repo@digest (no tag: latest)
    except Exception as exc:  # noqa: BLE001 - docker.errors.*: the daemon's own words are the evidence
        said = getattr(exc, "explanation", None) or str(exc)
        raise PlatformError(f"image pull: {image}: {' '.join(str(said).split())}") from None


def image_available(image: str) -> bool:
    """Whether the local daemon has ``image`` (by tag or by repo@digest); False without a daemon."""
    return bool(image) and dockerhost.image_exists(image)


def container_env(env: dict, volume_dir: Path) -> dict[str, str]:
    """The worker's environment as the container sees it: host volume paths become /runpod-volume paths."""
    volume = str(Path(volume_dir).resolve())
    out = {}
    for key, value in env.items():
        value = str(value)
        if value == volume or value.startswith(volume + "/"):
            value = VOLUME_MOUNT + value[len(volume):]
        out[key] = value
    return out


class ContainerHandle:
    """One worker container; the runner protocol's ``alive`` / ``stop`` / ``kill``, plus ``returncode``.

    A watcher thread copies the container's output into the worker log and notices its exit, so that
    ``alive()`` (called by the scaler on its event loop) never waits on the Docker API.
    """

    def __init__(self, container, log_path: Path, on_removed=None):
        self.container = container
        self._on_removed = on_removed  # Containers.forget: the owning registry drops it
        self.id = container.id
        self.name = container.name
        self.log_path = log_path
        self._returncode: int | None = None
        self._removed = False
        self._exited = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        """Copy the output into the log until the container stops, then record its exit code.

        A log stream can also end early (the client's read timeout on a quiet worker, a broken
        connection): then the container's state decides whether to follow again or to finish.
        """
        since = None
        while not self._removed:
            try:
                with open(self.log_path, "ab") as log:
                    for chunk in self.container.logs(stream=True, follow=True, since=since):
                        log.write(chunk)
                        log.flush()
            except Exception:  # noqa: BLE001 - handled by looking at the container's state below
                pass
            since = int(time.time())
            try:
                self.container.reload()
            except Exception as exc:  # noqa: BLE001
                if "404" in str(exc) or "No such container" in str(exc):
                    break
                time.sleep(0.5)
                continue
            state = self.container.attrs.get("State", {})
            if state.get("Status") not in ("created", "running", "restarting"):
                self._returncode = state.get("ExitCode")
                break
            time.sleep(0.5)
        self._exited.set()

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def alive(self) -> bool:
        return not (self._removed or self._exited.is_set())

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM (docker stop), SIGKILL after ``timeout_s``, then remove the container."""
        if not self._removed:
            with contextlib.suppress(Exception):  # already gone
                self.container.stop(timeout=max(1, math.ceil(timeout_s)))
            self._exited.wait(timeout=5)
        self._remove()

    def kill(self) -> None:
        """Force-remove the container (the reaper calls this once a worker has exited)."""
        self._remove()

    def _remove(self) -> None:
        if self._removed:
            return
        try:
            self.container.remove(force=True)
        except Exception as exc:  # noqa: BLE001
            if "No such container" not in str(exc) and "404" not in str(exc) and "already in progress" not in str(exc):
                return  # keep it on the list: the exit sweep tries again
        self._removed = True
        self._exited.set()
        if self._on_removed is not None:
            self._on_removed(self.id)


class Containers:
    """The containers one platform started (id -> handle): what its shutdown sweeps. One per platform,
    passed to the runners it builds, so no registry outlives or spans platforms."""

    def __init__(self) -> None:
        self._handles: dict[str, ContainerHandle] = {}
        self._lock = threading.Lock()
        self._orphans_removed = False

    def add(self, handle: ContainerHandle) -> None:
        with self._lock:
            self._handles[handle.id] = handle

    def remove_orphans_once(self) -> None:
        """Before this platform's first container: remove those whose platform died without its sweep (SIGKILL,
        a CI timeout); such a worker would poll a closed port and hold a CPU for ever."""
        if not self._orphans_removed:
            self._orphans_removed = True
            remove_orphans()

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._handles.pop(container_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._handles)

    def sweep(self) -> None:
        """Remove every container still held (a failed test, a crashed notebook, the platform stopping)."""
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            handle.kill()


class DockerRunner:
    """Starts a worker as a container of ``endpoint.image``. ``containers``: the platform's registry of what it
    started (None: the caller removes the handle itself); ``always_pull``: pull even when the daemon has it."""

    name = "docker"

    def __init__(self, containers: Containers | None = None, always_pull: bool = False):
        self.containers = containers
        self.always_pull = always_pull

    def start(self, worker_id: str, endpoint, env: dict, log_path: Path) -> ContainerHandle:
        """Start the container; its start (or why it could not start) goes to the worker's system log."""
        from playbook.local.runtime.worker_logs import timing_line, write_system_line

        if self.containers is not None:
            self.containers.remove_orphans_once()
        try:
            handle = self._start(worker_id, endpoint, env, log_path)
        except Exception as exc:
            write_system_line(log_path, f"error creating container: {' '.join(str(exc).split())[:500]}")
            raise
        write_system_line(log_path, timing_line("container_started", time.time()))
        return handle

    def _start(self, worker_id: str, endpoint, env: dict, log_path: Path) -> ContainerHandle:
        if self.always_pull or not image_available(endpoint.image):
            pull(endpoint.image)  # as a RunPod host does; a failed pull ends here, in the system log
        # an image for another CPU is run as RunPod would run it: the kernel refuses its entry point and the
        # container's log says "exec format error" (`playbook build` and push refuse such an image earlier).
        # Without tini then: tini's execvp would retry through /bin/sh and report "No such file or directory".
        from playbook.image.build import check_platform

        native = check_platform(endpoint.image).ok
        volume = Path(endpoint.volume_dir).resolve()
        volume.mkdir(parents=True, exist_ok=True)
        log_path = Path(log_path)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        client = dockerhost.client()
        name = f"playbook-{endpoint.id}-{worker_id}-{secrets.token_hex(2)}".replace("_", "-")
        try:
            container = client.containers.run(
                endpoint.image, detach=True, name=name, network_mode="host", init=native,
                environment={**container_env(env, volume), "PYTHONUNBUFFERED": "1"},
                volumes={str(volume): {"bind": VOLUME_MOUNT, "mode": "rw"}},
                labels={LABEL: worker_id, LABEL_ENDPOINT: str(endpoint.id), LABEL_OWNER: str(os.getpid())},
            )
        except Exception as exc:  # noqa: BLE001 - docker.errors.* : say which image and why
            raise PlatformError(f"could not start a container of {endpoint.image} for worker {worker_id}: "
                                f"{exc}") from exc
        handle = ContainerHandle(container, log_path, self.containers.forget if self.containers is not None else None)
        if self.containers is not None:
            self.containers.add(handle)
        return handle


def list_containers(endpoint_id: str | None = None, all_owners: bool = True) -> list:
    """Worker containers (running or not) the local platform started, optionally of one endpoint. The daemon lists
    ids and docker-py then inspects each: a container removed in between (its worker scaled down) is left out,
    not a 404 "No such container" (seen with the journey's 04, the Docker tier and the rehearsal at once)."""
    if not dockerhost.daemon_status().available:
        return []
    filters = {"label": [LABEL]}
    if endpoint_id:
        filters["label"].append(f"{LABEL_ENDPOINT}={endpoint_id}")
    if not all_owners:
        filters["label"].append(f"{LABEL_OWNER}={os.getpid()}")
    return dockerhost.client().containers.list(all=True, filters=filters, ignore_removed=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_orphans() -> int:
    """Force-remove worker containers whose owning process (the platform that started them) is gone."""
    removed = 0
    for container in list_containers(all_owners=True):
        if not _alive(container.labels.get(LABEL_OWNER, "")):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
    return removed


def remove_containers(endpoint_id: str | None = None, all_owners: bool = False) -> int:
    """Force-remove worker containers (by default only this process's); returns how many."""
    removed = 0
    for container in list_containers(endpoint_id, all_owners=all_owners):
        try:
            container.remove(force=True)
            removed += 1
        except Exception:  # noqa: BLE001
            pass
    return removed
