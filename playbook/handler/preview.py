"""Call the worker in this process, the way RunPod will, and look at what comes back.

Why: the fastest loop for writing a handler is no loop at all: load the pipeline once in the notebook,
send it job dicts, see images and errors at once. This module puts the repository's ``worker/`` on
``sys.path`` (the worker never imports ``playbook``; the playbook imports the worker), makes a
``Worker`` on any model folder, decodes base64 results into PIL images, and runs the handler as a
subprocess with ``--test_input`` exactly as a user would.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import WORKER_DIR, demo_model_dir, worker_on_path
from playbook.core.html import fields_table

HANDLER = WORKER_DIR / "handler.py"


def start_worker(model_path: Path | str | None = None, device: str = "auto", dtype: str = "auto"):
    """A worker (``imagegen.service.Worker``) with the pipeline at ``model_path`` loaded once."""
    worker_on_path()
    from imagegen.service import Worker, WorkerSettings

    return Worker.start(WorkerSettings(str(model_path or demo_model_dir()), device, dtype))


def job(**fields) -> dict:
    """A job dict as the worker receives it: ``{"id": ..., "input": {...}}``."""
    return {"id": f"preview-{time.time_ns()}", "input": fields}


class Table(dict):
    """A dict shown as a two-column table (lists joined with commas, floats rounded)."""

    def _repr_html_(self) -> str:
        return fields_table({k: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v for k, v in self.items()})


def table(values: dict) -> Table:
    return Table(values)


def decode_images(result: dict) -> list:
    """The PIL images of a result (base64 images only; URL results have nothing inline)."""
    from PIL import Image

    return [Image.open(io.BytesIO(base64.b64decode(item["image"]))) for item in result.get("images", [])
            if "image" in item]


def gallery(result: dict, scale: int = 3):
    """The result's images side by side, enlarged (nearest neighbour) so 64-pixel images are visible."""
    from PIL import Image

    images = decode_images(result)
    if not images:
        return None
    width = sum(im.width for im in images) + 4 * (len(images) - 1)
    sheet = Image.new("RGB", (width, max(im.height for im in images)), "white")
    x = 0
    for im in images:
        sheet.paste(im.convert("RGB"), (x, 0))
        x += im.width + 4
    return sheet.resize((sheet.width * scale, sheet.height * scale), Image.NEAREST)


def same_pixels(a: dict, b: dict) -> bool:
    """Whether two results hold identical images (same seed, same request, same model)."""
    import numpy as np

    ia, ib = decode_images(a), decode_images(b)
    return len(ia) == len(ib) and all(np.array_equal(np.asarray(x), np.asarray(y))
                                      for x, y in zip(ia, ib, strict=True))


@dataclass
class LocalTestRun:
    """What ``python worker/handler.py --test_input ...`` did."""

    returncode: int
    seconds: float
    stdout: str  # RunPod's log lines, the job result among them
    stderr: str  # library warnings and progress bars

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and "completed successfully" in self.output

    def summary(self) -> str:
        """One line: how it ended, how long it took and what the result held. RunPod's log prints the
        result dict with its base64 images cut by "...TRUNCATED n CHARACTERS...": not worth a reader's time."""
        if not self.ok:
            last = next((ln for ln in reversed(self.output.strip().splitlines()) if ln.strip()), "no output")
            return f"--test_input failed (exit {self.returncode}) after {self.seconds:.1f} s: {last.strip()[:200]}"
        shape = re.search(r"'width': (\d+), 'height': (\d+), 'num_inference_steps': (\d+), "
                          r"'output_format': '(\w+)'", self.stdout)
        # (the log's truncation can hide some images' entries, so they are not counted here)
        what = f"{shape[1]}x{shape[2]} {shape[4]} image(s), {shape[3]} steps" if shape else "a result"
        return f"--test_input completed in {self.seconds:.1f} s: {what} (exit 0)"

    def tail(self, lines: int = 6, width: int = 300) -> str:
        """The last log lines, each cut to ``width`` characters (a result line holds whole base64 images)."""
        return "\n".join(line[:width] for line in self.stdout.strip().splitlines()[-lines:])


def run_test_input(job_input: dict, model_path: Path | str | None = None, timeout_s: float = 300,
                   extra_env: dict | None = None, handler: Path | str = HANDLER) -> LocalTestRun:
    """Run ``handler`` (default: the production worker/handler.py) as its own process on one job, as RunPod's
    ``--test_input`` does."""
    env = {**os.environ, "MODEL_PATH": str(model_path or demo_model_dir()), **(extra_env or {})}
    env.pop("RUNPOD_WEBHOOK_GET_JOB", None)  # local-test mode, never a platform's job loop
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(handler), "--test_input", json.dumps({"input": job_input})],
        cwd=Path(handler).parent, env=env, capture_output=True, text=True, timeout=timeout_s,
    )
    return LocalTestRun(proc.returncode, time.perf_counter() - start, proc.stdout, proc.stderr)
