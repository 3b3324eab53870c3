"""Worker-side launcher: runs a handler file as ``__main__`` and dies with the platform.

Run as ``python launch.py HANDLER`` by ``ProcessRunner``; it imports nothing from playbook. Why: if the
platform is killed (even SIGKILL) its end of a pipe closes; a watcher thread here sees EOF on
PLAYBOOK_LIFELINE_FD and SIGKILLs this process group, so neither the worker nor the runpod SDK's
heartbeat child outlives the platform.
"""

import os
import runpy
import signal
import sys
import threading


def _watch(fd: int) -> None:
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main() -> None:
    handler = os.path.abspath(sys.argv[1])
    fd = os.environ.pop("PLAYBOOK_LIFELINE_FD", None)
    if fd is not None:
        threading.Thread(target=_watch, args=(int(fd),), daemon=True, name="lifeline").start()
    sys.argv = [handler, *sys.argv[2:]]
    sys.path[0] = os.path.dirname(handler)
    runpy.run_path(handler, run_name="__main__")


if __name__ == "__main__":
    main()
