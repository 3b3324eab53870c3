"""Worker-side launcher: runs a handler file as ``__main__`` and dies with the platform.

Run as ``python launch.py HANDLER`` by ``ProcessRunner``; it imports nothing from playbook. Why: if the
platform is killed (even SIGKILL) its end of a pipe closes; a watcher thread here sees EOF on
PLAYBOOK_LIFELINE_FD and SIGKILLs this process group, so neither the worker nor the runpod SDK's
heartbeat child outlives the platform.

It also carries out the process-side faults of ``playbook.local.runtime.faults`` (env PLAYBOOK_FAULT):
``crash_loop`` (a traceback at start, exit 1), ``slow_init`` (a start longer than RUNPOD_INIT_TIMEOUT),
and, by wrapping the handler given to ``runpod.serverless.start``, ``oom`` and ``hang``.
"""

import os
import runpy
import signal
import sys
import threading
import time


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


class OutOfMemoryError(RuntimeError):
    """Named like torch's, so the job error reads as it does on a GPU."""


def _faulty(handler, fault: str):
    pool, _, vram = os.environ.get("PLAYBOOK_FAULT_GPU", "AMPERE_16:16").partition(":")
    total = float(vram or 16) * 0.985  # what torch reports of a card's VRAM

    def oom(job):  # simulated (no GPU here); the text is PyTorch's own torch.OutOfMemoryError message format
        raise OutOfMemoryError(f"CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of "
                               f"{total:.2f} GiB of which {total * 0.07:.2f} GiB is free. (simulated on {pool} "
                               "by PLAYBOOK_FAULT=oom)")

    def hang(job):
        threading.Event().wait()

    return {"oom": oom, "hang": hang}.get(fault, handler)


def _apply_fault(fault: str) -> None:
    if fault == "crash_loop":
        print("Traceback (most recent call last):\n  File \"/handler.py\", line 3, in <module>\n"
              "RuntimeError: the worker crashed at start (PLAYBOOK_FAULT=crash_loop)", file=sys.stderr, flush=True)
        sys.exit(1)
    if fault == "slow_init":
        time.sleep(5 * float(os.environ.get("RUNPOD_INIT_TIMEOUT") or 420) + 10)  # then it starts, too late
    if fault in ("oom", "hang"):
        import runpod

        start = runpod.serverless.start

        def start_with_fault(config):
            return start({**config, "handler": _faulty(config["handler"], fault)})

        runpod.serverless.start = start_with_fault


def main() -> None:
    handler = os.path.abspath(sys.argv[1])
    fd = os.environ.pop("PLAYBOOK_LIFELINE_FD", None)
    if fd is not None:
        threading.Thread(target=_watch, args=(int(fd),), daemon=True, name="lifeline").start()
    sys.argv = [handler, *sys.argv[2:]]
    sys.path[0] = os.path.dirname(handler)
    if os.environ.get("PLAYBOOK_FAULT"):
        _apply_fault(os.environ["PLAYBOOK_FAULT"])
    runpy.run_path(handler, run_name="__main__")


if __name__ == "__main__":
    main()
