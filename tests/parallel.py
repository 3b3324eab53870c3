"""The suite on several cores (pytest-xdist, ``make test`` runs ``-n 2``): the background child (the journey, with
the rehearsal beside it) starts once, in the controller, and every worker reads the same run.

A worker decides at the end of its collection what the session needs (the same answer in every worker: they
collect the same tests) and writes it to the shared folder; the controller reads it when the first worker
reports its collection, starts the child, and writes where it runs; a worker's ``journey_run`` or
``rehearsal_run`` waits for the child's exit status, which a thread of the controller writes when the child ends.
Without xdist (plain ``pytest``, ``-n 0``) none of this is used: the session starts its own child, as before."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

SHARED_ENV = "PLAYBOOK_TEST_SHARED"  # the folder the controller and its workers share (set by the controller)


def is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config) -> bool:
    """This process hands tests to workers (``-n N`` with N > 0) and runs none itself."""
    return not is_worker(config) and bool(getattr(config.option, "numprocesses", None))


def shared_folder() -> Path | None:
    folder = os.environ.get(SHARED_ENV)
    return Path(folder) if folder else None


def share(config) -> None:
    """In the controller, before the workers start (they inherit the environment)."""
    folder = config._tmp_path_factory.getbasetemp() / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[SHARED_ENV] = str(folder)


def write(name: str, data: dict) -> None:
    """Write NAME in the shared folder whole or not at all (a reader never sees half a file)."""
    folder = shared_folder()
    part = folder / f".{name}.{os.getpid()}"
    part.write_text(json.dumps(data))
    part.replace(folder / name)


def read(name: str, timeout_s: float) -> dict | None:
    """NAME from the shared folder, waiting up to TIMEOUT_S for it; None if it never came."""
    path = shared_folder() / name
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)
    return json.loads(path.read_text())


def watch(proc: subprocess.Popen, name: str) -> None:
    """In the controller: write the child's exit status to NAME when it ends."""
    def wait() -> None:
        write(name, {"returncode": proc.wait()})

    threading.Thread(target=wait, daemon=True, name=f"watch-{name}").start()


class RemoteChild:
    """The child as a worker sees it: started by the controller, so the worker cannot ``wait()`` on it; it waits
    for the exit status the controller writes. Only what conftest's fixtures use of ``subprocess.Popen`` (``wait``
    and ``returncode``; stopping the child is the controller's)."""

    def __init__(self, exit_name: str):
        self.exit_name = exit_name
        self.returncode: int | None = None

    def wait(self, timeout: float) -> int:
        found = read(self.exit_name, timeout)
        if found is None:
            raise subprocess.TimeoutExpired("the journey's child (started by the controller)", timeout)
        self.returncode = found["returncode"]
        return self.returncode
