"""A guided read of the production worker: what each addition to the minimal handler buys, the diffusers
code that loads and runs the pipeline, quoted from the real files.

Why quoted and never retyped: a notebook that prints a copy of the code teaches a copy; here every line
shown is read from ``worker/`` when the notebook runs, and an addition whose line is gone from
``worker/handler.py`` raises (a test runs it), so the notebook cannot drift from the worker.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from playbook.core.config import WORKER_DIR, worker_on_path
from playbook.core.html import code, table

HANDLER = WORKER_DIR / "handler.py"

# (what, a text the line of worker/handler.py holds, what it buys). Order: as the file reads.
ADDITIONS = (
    ("timing marks", 'timing.mark("started")',
     "one log line per cold-start phase (RunPod exposes the worker's log, no metrics): 06 splits the cold start "
     "with them"),
    ("quiet SDK log", 'os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")',
     "set before the SDK is imported: at DEBUG its log prints every result, whole base64 images included"),
    ("background import", 'boot.import_in_background("runpod")',
     "the SDK's import (it runs a cpuinfo subprocess) overlaps the model load instead of preceding it"),
    ("one Worker object", "worker = Worker.start()",
     "checks the files, reads the weights ahead, loads, warms up; never raises: a broken model becomes a message"),
    ("fitness check", "@runpod.serverless.register_fitness_check",
     "a worker whose model is missing or corrupt fails at start, naming the file, before it takes a job"),
    ("validation", "return worker.handle(job",
     "the input is parsed by a schema: a bad field gets one error string naming it, the worker keeps serving"),
    ("throttled progress", "Throttle(on_step, PROGRESS_INTERVAL_S)",
     "progress for /status at most every WORKER_PROGRESS_INTERVAL_S (default 1 s; each update costs a thread "
     "and an HTTP post)"),
    ("prefetch", "prefetch.start_options(handler)",
     "WORKER_PREFETCH=1: the next job is taken while one runs (no second of dead time between jobs)"),
)


@dataclass(frozen=True)
class Addition:
    what: str
    line: int  # in worker/handler.py, 1-based
    text: str  # that line, stripped
    buys: str


def additions() -> list[Addition]:
    """Each addition with the line of ``worker/handler.py`` that makes it; raises when one is gone."""
    lines = HANDLER.read_text().splitlines()
    found = []
    for what, needle, buys in ADDITIONS:
        number = next((i for i, line in enumerate(lines, 1) if needle in line), None)
        if number is None:
            raise LookupError(f"worker/handler.py no longer holds {needle!r} ({what}): update playbook/handler/tour.py")
        found.append(Addition(what, number, lines[number - 1].strip(), buys))
    return found


class AdditionsTable(list):
    def _repr_html_(self) -> str:
        return table([(a.what, a.line, code(a.text[:70]), a.buys) for a in self],
                     header=("addition", "line", "worker/handler.py", "what it buys"))


def additions_table() -> AdditionsTable:
    return AdditionsTable(additions())


def quote(module: str, name: str) -> str:
    """The source of ``name`` (a function or class) in the worker's ``imagegen.<module>``, from the file,
    headed by where it is."""
    worker_on_path()
    import importlib

    mod = importlib.import_module(f"imagegen.{module}")
    obj = getattr(mod, name)
    lines, start = inspect.getsourcelines(obj)
    return f"# worker/imagegen/{module}.py, line {start}\n" + "".join(lines).rstrip()
