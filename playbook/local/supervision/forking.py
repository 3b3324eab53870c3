"""Local workers forked from a warm process (``forkserver.py``) instead of started cold, where that is safe.

A worker folder that ships ``preimport.py`` (the demo worker's: torch, diffusers, transformers, with the handler's
environment defaults) gets one fork server per platform: it runs that file once, and each worker of the folder
is then forked from it and runs ``launch.main`` as a fresh ``python launch.py HANDLER`` would. What a worker
saves is the import of those modules (about 5 of its 7 CPU seconds on this project's CPU; `benchmarks/
bench_local_platform.py` prints the two starts side by side). The runpod SDK is imported by each worker, so the
worker loop and its RUNPOD_* variables are per worker, as before.

What differs from a cold start, and how it is kept honest:
- the modules in ``preimport.py`` were imported with the server's environment: a worker whose environment differs
  in a variable such a module reads at import (``IMPORT_TIME_PREFIXES``: HF_*, TORCH*, OMP_*, HOME, ...) starts
  cold instead, so no setting is silently ignored;
- the local cold start lacks the import phase that a RunPod container pays (its log's timing marks show it);
- Linux only (fork after importing torch is not safe on macOS); ``PLAYBOOK_WORKER_FORK=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from playbook.core.settings import LIFELINE_FD_VAR, worker_fork_enabled
from playbook.local.supervision.runners import ProcessHandle

log = logging.getLogger("playbook.local")
SERVER = Path(__file__).with_name("forkserver.py")
PREIMPORT = "preimport.py"
READY_TIMEOUT_S = 300.0
MAX_MESSAGE = 1 << 20  # as forkserver.py's
# variables that torch, diffusers, transformers or huggingface_hub read when imported (paths, offline mode,
# thread counts, logging): a worker must agree with its server on each of them to be forked
IMPORT_TIME_PREFIXES = ("HF_", "HUGGINGFACE", "TRANSFORMERS", "DIFFUSERS", "TORCH", "PYTORCH", "OMP_", "MKL_",
                        "KMP_", "OPENBLAS", "CUDA", "NVIDIA", "XDG_", "HOME", "PYTHON", "LD_")


def import_time_env(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES)}


class Forkserver:
    """One server process for one worker folder: started at the first worker, stopped with its platform."""

    def __init__(self, folder: Path, env: dict, log_path: Path):
        self.folder = folder
        self.env = {k: v for k, v in env.items() if k != LIFELINE_FD_VAR}
        self.error: str | None = None
        self._ids = itertools.count(1)
        self._replies: dict[int, dict] = {}
        self._exits: dict[int, int] = {}
        self._changed = threading.Condition()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, str(SERVER), str(theirs.fileno()), str(folder)],
                                         env={**self.env, "PYTHONUNBUFFERED": "1"}, cwd=str(folder),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, pass_fds=(theirs.fileno(),))
        theirs.close()
        self.sock = ours
        ready = self._receive()
        if not ready or not ready.get("ready"):
            self.error = (ready or {}).get("error") or f"the fork server exited (see {log_path})"
            self.close()
            return
        threading.Thread(target=self._read, daemon=True, name=f"forkserver-{folder.name}").start()

    def _receive(self) -> dict | None:
        ready, _, _ = select.select([self.sock], [], [], READY_TIMEOUT_S)
        data = self.sock.recv(MAX_MESSAGE) if ready else b""
        return json.loads(data) if data else None

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(MAX_MESSAGE)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self.error = self.error or "the fork server stopped"
                    self._changed.notify_all()
                    return
                message = json.loads(data)
                if "exit" in message:
                    self._exits[message["exit"]] = message["code"]
                else:
                    self._replies[message["id"]] = message
                self._changed.notify_all()

    @property
    def usable(self) -> bool:
        return self.error is None

    def agrees(self, env: dict) -> bool:
        """Whether a worker with ``env`` sees, at import, what this server saw (else it starts cold)."""
        return import_time_env(env) == import_time_env(self.env)

    def fork(self, handler: Path, env: dict, cwd: Path, log_path: Path) -> ProcessHandle:
        """A worker forked from this server, as a handle like a started process's (its exit reported by the server)."""
        read_fd, write_fd = os.pipe()
        request_id = next(self._ids)
        request = {"id": request_id, "handler": str(handler), "env": env, "cwd": str(cwd)}
        reply = None
        try:
            with open(log_path, "ab") as out:
                socket.send_fds(self.sock, [json.dumps(request).encode()], [out.fileno(), read_fd])
            with self._changed:
                self._changed.wait_for(lambda: request_id in self._replies or self.error is not None, timeout=30)
                reply = self._replies.pop(request_id, None)
        except OSError as exc:  # the server's end is closed
            self.error = self.error or f"the fork server stopped ({exc})"
        finally:
            os.close(read_fd)
        if not reply or "pid" not in reply:
            os.close(write_fd)
            from playbook.core.errors import PlatformError

            raise PlatformError(f"the fork server of {self.folder} could not start the worker: "
                                f"{(reply or {}).get('error') or self.error or 'no answer in 30 s'}")
        pid = reply["pid"]
        return ProcessHandle(pid, write_fd, log_path, lambda: self.exit_code(pid))

    def exit_code(self, pid: int) -> int | None:
        with self._changed:
            if pid in self._exits:
                return self._exits[pid]
            if self.error is None:
                return None
        try:  # the server is gone (its children were re-parented): alive while the pid answers
            os.kill(pid, 0)
            return None
        except ProcessLookupError:
            return -signal.SIGKILL
        except PermissionError:
            return None

    def close(self) -> None:
        """Stop the server (its workers are stopped by their platform; they do not depend on it)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Forkservers:
    """A platform's fork servers, one per worker folder with a ``preimport.py``; closed when the platform stops.
    ``home``: the HOME every local worker of the platform gets (one for all, so that forked workers agree)."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.home = self.log_dir / "home"
        self._servers: dict[Path, Forkserver] = {}
        self._lock = threading.Lock()

    def server_for(self, handler: Path, env: dict) -> Forkserver | None:
        """The warm server for the handler's folder (started now if needed), or None: cold start."""
        folder = Path(handler).resolve().parent
        if not (worker_fork_enabled() and (folder / PREIMPORT).is_file()):
            return None
        with self._lock:
            if folder not in self._servers:
                self._servers[folder] = Forkserver(folder, env, self.log_dir / f"forkserver-{folder.name}.log")
                if not self._servers[folder].usable:
                    log.warning("no fork server for %s (%s): its workers start cold", folder,
                                self._servers[folder].error)
            server = self._servers[folder]
        return server if server.usable and server.agrees(env) else None

    def close(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
