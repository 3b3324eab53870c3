"""Cold-start timing marks: one line per phase in the worker's log, read back by ``playbook.monitor.coldstart``.

Why in the log: RunPod exposes no metrics endpoint, only the worker's logs, so the breakdown of a cold
start (process start, imports, model load, fitness check, first job take) must travel there. A mark is
``PLAYBOOK_TIMING phase=<name> t=<epoch seconds>``; the platform adds ``spawned`` and ``first_take`` (and
``container_started`` for containers) as system lines in the same format.

Use (one line per phase, in handler.py): ``timing.mark("imported")``. Marks cost a print each.
"""

import sys
import time

PREFIX = "PLAYBOOK_TIMING"


def mark(phase: str) -> None:
    """Print the time this phase ended (``started`` for the first line the worker runs)."""
    print(f"{PREFIX} phase={phase} t={time.time():.6f}", file=sys.stdout, flush=True)
