"""A cold start near the floor: overlap what the worker must wait for, instead of doing it in a row.

Why: a worker's spawn-to-ready is imports (torch, diffusers, transformers, the runpod SDK) plus reading
the weights. Two of these need not sit on the critical path:

* ``import runpod`` spends about a second in a subprocess (py-cpuinfo, run at import by the SDK's
  ``rp_debugger``). ``import_in_background("runpod")`` starts that import in a thread at the top of
  handler.py, so the subprocess runs on another core while the model loads; the SDK is not patched.
* Reading the weights' bytes from a network volume is I/O: ``read_ahead(model_path)`` streams the weight
  files once in a thread (the reads release the GIL) so ``from_pretrained`` later finds them in the page
  cache while the imports still run.

Both are threads that finish on their own; ``Pending.result()`` joins and re-raises what the thread raised.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".ckpt")
CHUNK_BYTES = 16 * 1024 * 1024


class Pending:
    """A value made in a daemon thread; ``result()`` waits for it (and re-raises its exception)."""

    def __init__(self, name: str, fn, *args):
        self._value = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, *args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn, *args):
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = exc

    def result(self, timeout_s: float | None = None):
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"{self._thread.name} did not finish in {timeout_s} s")
        if self._error is not None:
            raise self._error
        return self._value


def import_in_background(module: str) -> Pending:
    """Start ``import module`` in a thread now; ``.result()`` is the module."""
    return Pending(f"import {module}", importlib.import_module, module)


def _variant_of(name: str) -> str | None:
    from imagegen.fitness import VARIANT_FILE

    m = VARIANT_FILE.match(name)
    return (m.group(1) or m.group(2)) if m else None


def weight_files(model_path: str | Path, variant: str | None = None) -> list[Path]:
    """The weight files from_pretrained will read: per folder the ``variant``'s when it has them, else
    the plain ones (the other variants' files are not read ahead)."""
    root = Path(model_path)
    if not root.is_dir():
        return []
    folders: dict[Path, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES):
            folders.setdefault(p.parent, []).append(p)
    chosen = []
    for files in folders.values():
        mine = [p for p in files if variant and _variant_of(p.name) == variant]
        chosen += mine or [p for p in files if _variant_of(p.name) is None]
    return chosen


def _read_all(files: list[Path]) -> int:
    buffer = bytearray(CHUNK_BYTES)
    total = 0
    for path in files:
        try:
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    total += n
        except OSError:
            continue  # the fitness check names unreadable files; read-ahead only saves time
    return total


def read_ahead(model_path: str | Path, variant: str | None = None) -> Pending:
    """Read the weight files of ``variant`` under ``model_path`` once, in a thread; ``.result()`` is the bytes
    read."""
    return Pending("read weights ahead", _read_all, weight_files(model_path, variant))
