"""Run one of the client examples in ``examples/`` against an endpoint, as a user would from a shell.

Why: the examples are the endpoint's documentation for its callers (with ``worker/README.md``, the request
fields, and ``worker/contract/openapi.json``). Running one in a notebook shows that the same program works
on the local platform and on RunPod: only ``RUNPOD_ENDPOINT_BASE_URL`` differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import REPO_ROOT, Target
from playbook.core.errors import ConfigError
from playbook.core.html import code, paragraph, table

EXAMPLES = REPO_ROOT / "examples"
PYTHON_EXAMPLES = {"python_requests": "python_requests.py", "python_runpod_sdk": "python_runpod_sdk.py"}


@dataclass(frozen=True)
class ExampleRun:
    name: str
    command: str  # as a user would type it (no secrets: they travel in the environment)
    returncode: int
    seconds: float
    saved: tuple[Path, ...]
    output: str  # the program's last lines, stdout then stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.saved)

    def _repr_html_(self) -> str:
        rows = [(p.name, f"{p.stat().st_size:,} bytes") for p in self.saved]
        return (paragraph(code(self.command), f" exited {self.returncode} after {self.seconds:.1f} s")
                + table(rows, header=["image saved", "size"]))


def run_example(name: str, target: Target, endpoint_id: str, body: dict, out_dir: Path,
                timeout_s: float = 300) -> ExampleRun:
    """Run ``examples/<name>`` with the variables it reads (key, endpoint id, job API base URL) and the job
    ``body`` (``{"input": {...}}``) as its argument; its images go to ``out_dir``."""
    if name not in PYTHON_EXAMPLES:
        raise ConfigError(f"example {name[:40]!r}: choose one of {sorted(PYTHON_EXAMPLES)} (the others need "
                          "curl/jq or node; examples/README.md runs them from a shell)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    job_file = out_dir / "job.json"
    job_file.write_text(json.dumps(body))
    script = EXAMPLES / PYTHON_EXAMPLES[name]
    env = {**os.environ, "RUNPOD_API_KEY": target.api_key.reveal(), "RUNPOD_ENDPOINT_ID": endpoint_id,
           "RUNPOD_ENDPOINT_BASE_URL": target.job_api_url, "OUT_DIR": str(out_dir), "TIMEOUT_S": str(timeout_s)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), str(job_file)], env=env, capture_output=True, text=True,
                          timeout=timeout_s + 30)
    seconds = time.perf_counter() - start
    saved = tuple(sorted(p for p in out_dir.iterdir() if p.is_file() and p != job_file))
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
    command = f"python examples/{script.name} {job_file.name}"
    return ExampleRun(name, command, done.returncode, round(seconds, 1), saved, tail)
