"""The minimal worker (``examples/minimal_worker/handler.py``), loaded and called the way RunPod would.

Why: "keep the handler simple first". A 25-line handler that loads the pipeline once and returns one
base64 PNG is the first thing to get working end to end; notebook 03 runs it (in this process, and as its
own process with the SDK's ``--test_input``) before it shows the production worker and what each of its
additions buys. The file is the repository's, never a copy: what the notebook runs is what a user copies.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import os
from pathlib import Path

from playbook.core.config import REPO_ROOT, worker_on_path

MINIMAL_DIR = REPO_ROOT / "examples" / "minimal_worker"
HANDLER = MINIMAL_DIR / "handler.py"
DOCKERFILE = MINIMAL_DIR / "Dockerfile"
REQUIREMENTS = MINIMAL_DIR / "requirements.txt"


def source() -> str:
    """The minimal handler's code, without its one-line docstring."""
    return HANDLER.read_text().split('"""', 2)[2].strip()


def settings(model_path: Path | str) -> dict[str, str]:
    """The minimal worker's environment for ``model_path``: MODEL_PATH, and MODEL_VARIANT when the folder holds
    only a variant's files (a model saved with ``variant="fp16"``), detected as the production worker does."""
    worker_on_path()
    from imagegen.fitness import choose_variant

    variant = os.environ.get("MODEL_VARIANT") or choose_variant(model_path)
    return {"MODEL_PATH": str(model_path), **({"MODEL_VARIANT": variant} if variant else {})}


def load(model_path: Path | str):
    """Import the minimal handler as a module with ``settings(model_path)``: its import loads the pipeline,
    exactly as when a worker starts. Returns the module (``module.handler(job)``, ``module.pipe``)."""
    worker_on_path()
    from imagegen.pipeline import quiet_torchvision_fallback

    quiet_torchvision_fallback()  # transformers' "requires torchvision" notice: noise for a text-to-image worker
    import transformers
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()  # loading bars: widgets in a notebook, as the worker's pipeline.load
    transformers.utils.logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = importlib.util.spec_from_file_location("minimal_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    env = settings(model_path)
    old = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        spec.loader.exec_module(module)
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    module.pipe.set_progress_bar_config(disable=True)  # the worker's log would get a bar per job
    return module


def call(module, **job_input) -> dict:
    """``module.handler`` on one job ``{"id": ..., "input": job_input}``."""
    return module.handler({"id": "minimal-preview", "input": job_input})


def image(result: dict):
    """The PIL image of the minimal handler's result."""
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(result["image"])))


def refusal(module, **job_input) -> str | None:
    """What the minimal handler does with a request it cannot serve: the exception it raises (type and message,
    which RunPod reports as the job's error with its traceback), or None when it served it."""
    try:
        call(module, **job_input)
    except Exception as exc:  # noqa: BLE001 - whatever diffusers raises is the lesson
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return None
