"""Fork server: imports a worker folder's ``preimport.py`` once, then forks each local worker from that state.

Run as ``python forkserver.py SOCKET_FD HANDLER_FOLDER`` by ``forking.Forkserver``; like ``launch.py`` it imports
nothing from playbook. Why: a local worker process spends most of its start importing torch, diffusers and
transformers (about 5 of its 7 CPU seconds here), and the platform starts dozens of them. A worker forked from
here starts with those modules already imported; it then runs ``launch.main`` (the lifeline, the faults, the
handler as ``__main__``) exactly as a fresh ``python launch.py HANDLER`` would, with its own environment, log,
working folder and process group. The runpod SDK is not pre-imported: every worker imports it, and reads its
RUNPOD_* variables, itself. One answer is shared: the SDK's import asks py-cpuinfo for the processor's name (its
``rp_debugger``), and py-cpuinfo answers by starting a second Python interpreter (about 1.2 CPU seconds, more than
the rest of ``import runpod``); the server asks once (``read_cpu_info_once``) and its workers get that same answer.

Protocol on the SOCK_SEQPACKET socket: the platform sends a JSON request ``{"id", "handler", "env", "cwd"}``
with two file descriptors (the log, the lifeline's read end); the server answers ``{"id", "pid"}`` (or
``{"id", "error"}``), and ``{"exit": pid, "code": ...}`` when a worker ends (``code`` as Popen's returncode:
negative for a signal). The server exits when the platform closes its end (it stopped, or died); workers
already forked go on until their own lifeline closes.
"""

import contextlib
import importlib.util
import json
import os
import select
import signal
import socket
import sys
import traceback

import launch  # this folder's (sys.path[0]): imported once, before any fork

MAX_MESSAGE = 1 << 20  # as forking.py's


def send(sock: socket.socket, message: dict) -> None:
    sock.send(json.dumps(message).encode())


def preimport(folder: str) -> None:
    """Run the folder's preimport.py (its heavy imports, with the handler's own environment defaults)."""
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("preimport", os.path.join(folder, "preimport.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.path.remove(folder)


def read_cpu_info_once() -> None:
    """Ask py-cpuinfo (where installed) for this machine's CPU once; a forked worker's ``cpuinfo.get_cpu_info()``
    returns a copy of that answer instead of starting an interpreter to ask again (same machine, same dict)."""
    try:
        import cpuinfo
    except ImportError:
        return
    info = cpuinfo.get_cpu_info()

    def get_cpu_info() -> dict:
        return dict(info)

    cpuinfo.get_cpu_info = get_cpu_info


def run_worker(sock: socket.socket, request: dict, log_fd: int, lifeline_fd: int) -> None:
    """In the forked child: become the worker that ``python launch.py HANDLER`` would have been. Never returns."""
    code = 1
    try:
        sock.close()
        os.setsid()  # its own process group: the platform stops the worker and what it forks together
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        os.environ.clear()
        os.environ.update({**request["env"], "PLAYBOOK_LIFELINE_FD": str(lifeline_fd)})
        os.chdir(request["cwd"])
        sys.argv = [launch.__file__, request["handler"]]
        launch.main()
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - a worker's traceback goes to its log, as a fresh process's would
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def fork(sock: socket.socket, request: dict, fds: list[int]) -> None:
    log_fd, lifeline_fd = fds
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        send(sock, {"id": request["id"], "error": f"fork failed: {exc}"})
        os.close(log_fd)
        os.close(lifeline_fd)
        return
    if pid == 0:
        run_worker(sock, request, log_fd, lifeline_fd)
    os.close(log_fd)
    os.close(lifeline_fd)  # only the worker holds the read end: the platform's close reaches it alone
    send(sock, {"id": request["id"], "pid": pid})


def reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(sock, {"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in a notebook is not for the platform's server
    try:
        read_cpu_info_once()
        preimport(sys.argv[2])
    except BaseException as exc:  # noqa: BLE001 - the platform then starts its workers as fresh processes
        send(sock, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    send(sock, {"ready": True})
    while True:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            message, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 2)
            if not message:
                return  # the platform closed its end
            fork(sock, json.loads(message), fds)
        reap(sock)


if __name__ == "__main__":
    main()
