"""Calling the endpoint the way a user's program does: one of the client examples in ``examples/``, run as
its own process with the variables it documents (RUNPOD_API_KEY, RUNPOD_ENDPOINT_ID, RUNPOD_ENDPOINT_BASE_URL).

Why a process: an example is a complete program a user copies; running it as one (not importing it) proves
it works on the journey's endpoint, on either target. The key goes into the child's environment only: the
command shown and the result never carry it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.core.html import fields_table

EXAMPLES = REPO_ROOT / "examples"
PROGRAMS = {".py": [sys.executable], ".sh": ["bash"], ".mjs": ["node"]}


@dataclass(frozen=True)
class ExampleRun:
    """One run of an example: its command (no secret in it), exit code, seconds and the files it saved."""

    example: str
    command: str
    returncode: int
    seconds: float
    saved: tuple[str, ...]
    output: str  # its stdout and stderr, last lines

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.saved)

    def _repr_html_(self) -> str:
        return fields_table({"example": self.example, "command": self.command, "exit code": self.returncode,
                             "seconds": round(self.seconds, 1), "images saved": len(self.saved),
                             "its output": self.output}, caption="a client example, run as its own process")


def run_example(name: str, target, endpoint_id: str, job_input: dict, out_dir: Path,
                timeout_s: float = 300.0) -> ExampleRun:
    """Run ``examples/<name>`` against ``endpoint_id`` on ``target`` with ``{"input": job_input}`` as its job
    file; its images go to ``out_dir``."""
    path = EXAMPLES / name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    body = out_dir / "job.json"
    body.write_text(json.dumps({"input": job_input}))
    env = {**os.environ, "RUNPOD_API_KEY": target.api_key.reveal(), "RUNPOD_ENDPOINT_ID": endpoint_id,
           "RUNPOD_ENDPOINT_BASE_URL": target.job_api_url, "OUT_DIR": str(out_dir / "images"),
           "TIMEOUT_S": str(int(timeout_s))}
    command = [*PROGRAMS[path.suffix], str(path), str(body)]
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s + 30)
    images = out_dir / "images"
    saved = tuple(sorted(p.name for p in images.iterdir())) if images.is_dir() else ()
    shown = (f"RUNPOD_ENDPOINT_ID={endpoint_id} RUNPOD_ENDPOINT_BASE_URL={target.job_api_url} "
             f"RUNPOD_API_KEY=... {Path(command[0]).name} examples/{name} {body.name}")
    text = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
    return ExampleRun(name, shown, done.returncode, time.monotonic() - start, saved, text)
