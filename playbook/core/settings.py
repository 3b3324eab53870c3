"""Constants and settings the whole playbook shares, in one place: RunPod's job states, its payload
limits (in bytes, one unit), where a model lives on a volume, and every ``PLAYBOOK_*`` environment
variable with its default and meaning (``VARIABLES``; the README lists the same table). No other
module reads a ``PLAYBOOK_*`` variable; they call the functions below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

REPO_ROOT = Path(__file__).resolve().parents[2]

# Job states (RunPod's job API). A terminal state is final: nothing reopens the job.
IN_QUEUE, IN_PROGRESS = "IN_QUEUE", "IN_PROGRESS"
COMPLETED, FAILED, CANCELLED, TIMED_OUT = "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"
TERMINAL = (COMPLETED, FAILED, CANCELLED, TIMED_OUT)
JOB_STATES = (IN_QUEUE, IN_PROGRESS, *TERMINAL)

# Payload limits of RunPod's job API, in bytes (RunPod writes "10 MB" and "20 MB"; we count MiB like its
# servers, which is the stricter reading for a client and the one the local platform enforces).
RUN_PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024
RUNSYNC_PAYLOAD_LIMIT_BYTES = 20 * 1024 * 1024

# Where serverless workers see the network volume, and where models go on it.
VOLUME_MOUNT = "/runpod-volume"
MODELS_DIR = "models"
DEMO_MODEL_NAME = "tiny-sd"


def model_dir(volume: str | PurePosixPath = VOLUME_MOUNT, name: str = DEMO_MODEL_NAME):
    """The folder of model ``name`` on a volume: ``<volume>/models/<name>``. ``volume`` may be the mount
    path a worker sees (a string, the default) or a local folder (a ``Path``); the result has its type."""
    if isinstance(volume, str):
        return f"{volume.rstrip('/')}/{MODELS_DIR}/{name}"
    return volume / MODELS_DIR / name


# -- environment variables ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvVar:
    name: str
    default: str  # as the README shows it
    meaning: str


VARIABLES = {v.name: v for v in (
    EnvVar("PLAYBOOK_BUILD_DIR", "<repo>/build", "everything generated: executed notebooks, the local volume, "
           "worker logs, build contexts"),
    EnvVar("PLAYBOOK_VOLUME_DIR", "$PLAYBOOK_BUILD_DIR/volume", "the local stand-in for a network volume, laid out "
           "like /runpod-volume"),
    EnvVar("PLAYBOOK_STATE_DIR", "~/.cache/runpod-playbook", "where a running local platform records its address "
           "and key"),
    EnvVar("PLAYBOOK_LOCAL_API_KEY", "random per start", "the API key a local platform accepts"),
    EnvVar("PLAYBOOK_LOCAL_STRICT", "0", "1: the local platform is the strict stand-in for RunPod (`playbook local "
           "up --strict`): workers run only their endpoint's image pulled from its registry, crash loops back off, "
           "state persists in the state folder"),
    EnvVar("PLAYBOOK_WORKER_FORK", "1 on Linux", "0: every local worker process starts cold (python launch.py "
           "HANDLER); by default, a worker folder with a preimport.py has its workers forked from a process that "
           "imported it once (playbook/local/supervision/forking.py; Linux only)"),
    EnvVar("PLAYBOOK_TARGET", "auto", "local, runpod or auto: local keeps the journey on the local platform even "
           "with RUNPOD_API_KEY set (`playbook notebooks --target local`, `make playbook TARGET=local`)"),
    EnvVar("PLAYBOOK_GPU_CATALOG", "none", "a TOML/YAML/JSON file overriding GPU pool prices and VRAM"),
    EnvVar("PLAYBOOK_IMAGE_BUDGET_GB", "10", "image size above which the build warns"),
    EnvVar("PLAYBOOK_WHEELHOUSE", "~/.cache/runpod-playbook/wheelhouse", "wheels for offline image builds"),
    EnvVar("PLAYBOOK_REGISTRY", "the one scripts/services.sh started", "host:port of the image registry "
           "(environment or .env)"),
    EnvVar("PLAYBOOK_DOCKER_DIR", "/var/lib/playbook-docker", "state folder of scripts/services.sh (its "
           "services.env names DOCKER_HOST and the registry)"),
    EnvVar("PLAYBOOK_REGISTRY_PORT", "5000", "scripts/services.sh: registry port on 127.0.0.1"),
    EnvVar("PLAYBOOK_BASE_IMAGE", "local/python:3.11-slim", "scripts/services.sh: tag of the local base image"),
    EnvVar("PLAYBOOK_STORAGE_DRIVER", "overlay2", "scripts/services.sh: dockerd storage driver (vfs without "
           "overlayfs)"),
    EnvVar("PLAYBOOK_REQUIRE_TOOLS", "unset", "tests: 1 turns every skip for a missing tool (Docker daemon, "
           "registry or base image, jq, node, chromium) into a failure (CI); gpu tests still skip without CUDA"),
    EnvVar("PLAYBOOK_TEST_JOURNEY", "unset", "tests: a folder where an earlier session's journey ran (its "
           "journey.json, e.g. /tmp/pytest-of-$USER/pytest-N/journey0): the tests that read the journey read that "
           "run instead of starting one (tests/journey_child.py)"),
    EnvVar("PLAYBOOK_TEST_SHARED", "set by the tests", "tests, set by the controller of a parallel session "
           "(make test: pytest -n 2): the folder where it and its workers share the journey's child "
           "(tests/parallel.py); never set it by hand"),
    EnvVar("PLAYBOOK_FAULT", "unset", "an endpoint env key, not a host variable: breaks the local platform's "
           "endpoint on purpose (no_stock, crash_loop, image_pull, cuda_mismatch, oom, slow_init, hang; "
           "playbook/local/runtime/faults.py)"),
    EnvVar("PLAYBOOK_FAULT_GPU", "set by the platform", "internal: the simulated GPU (pool:VRAM GB) a local worker "
           "with the oom fault runs on, for its out-of-memory message"),
    EnvVar("PLAYBOOK_TIMING", "printed by the worker", "not a variable: the prefix of the worker's cold-start "
           "timing marks in its log (worker/imagegen/timing.py)"),
    EnvVar("PLAYBOOK_LIFELINE_FD", "set by the platform", "internal: the pipe a local worker watches to die "
           "with its platform"),
)}


def env(name: str) -> str | None:
    """The value of the ``PLAYBOOK_*`` variable ``name`` (one of ``VARIABLES``), or None when unset/empty."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a playbook setting; add it to playbook.core.settings.VARIABLES")
    return os.environ.get(name) or None


def build_dir() -> Path:
    return Path(env("PLAYBOOK_BUILD_DIR") or REPO_ROOT / "build").resolve()


def local_volume_dir() -> Path:
    return Path(env("PLAYBOOK_VOLUME_DIR") or build_dir() / "volume").resolve()


def state_dir() -> Path:
    return Path(env("PLAYBOOK_STATE_DIR") or Path.home() / ".cache" / "runpod-playbook").resolve()


def docker_services_dir() -> Path:
    return Path(env("PLAYBOOK_DOCKER_DIR") or "/var/lib/playbook-docker")


def wheelhouse_dir() -> Path:
    return Path(env("PLAYBOOK_WHEELHOUSE") or Path.home() / ".cache" / "runpod-playbook" / "wheelhouse")


def image_budget_gb() -> float:
    return float(env("PLAYBOOK_IMAGE_BUDGET_GB") or 10.0)


def gpu_catalog_file() -> Path | None:
    value = env("PLAYBOOK_GPU_CATALOG")
    return Path(value) if value else None


def target() -> str:
    """PLAYBOOK_TARGET, lower-cased ("auto" when unset)."""
    return (env("PLAYBOOK_TARGET") or "auto").strip().lower()


def _switch(name: str, default: str) -> bool:
    """An on/off variable: anything but 0, false, no (or blank) is on."""
    return (env(name) or default).strip().lower() not in ("0", "false", "no", "")


def local_strict() -> bool:
    """PLAYBOOK_LOCAL_STRICT: whether a local platform started without an explicit ``strict`` is strict."""
    return _switch("PLAYBOOK_LOCAL_STRICT", "0")


def worker_fork_enabled() -> bool:
    """PLAYBOOK_WORKER_FORK: whether local worker processes may be forked from a warm fork server (Linux only)."""
    import sys

    return sys.platform.startswith("linux") and _switch("PLAYBOOK_WORKER_FORK", "1")


def local_api_key() -> str | None:
    return env("PLAYBOOK_LOCAL_API_KEY")


def registry_address() -> str | None:
    """PLAYBOOK_REGISTRY from the environment or .env (None: use the one scripts/services.sh started)."""
    from playbook.core.secrets import lookup

    value = lookup("PLAYBOOK_REGISTRY")
    return value.reveal() if value else None


LIFELINE_FD_VAR = "PLAYBOOK_LIFELINE_FD"  # internal: set by supervision.runners, read by supervision.launch
