"""Where things are and which platform we talk to.

Two targets, one code path. The **local** platform (``playbook.local``) serves RunPod's job API and
REST control API on loopback; **runpod** is RunPod itself. ``resolve_target()`` picks RunPod when
``RUNPOD_API_KEY`` is set (environment or ``.env``) and the local platform otherwise, unless
``PLAYBOOK_TARGET=local`` (or ``runpod``) says which; every phase takes
the resulting ``Target`` and never branches on its name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from playbook.errors import ConfigError
from playbook.excerpts import excerpt
from playbook.secrets import Secret, lookup

RUNPOD_JOB_API_URL = "https://api.runpod.ai/v2"  # + /{endpoint_id}/run ...
RUNPOD_CONTROL_API_URL = "https://api.runpod.io/v2"  # + /serverless, /templates ...
VOLUME_MOUNT = "/runpod-volume"  # where serverless workers see the network volume
DEMO_MODEL_NAME = "tiny-sd"

REPO_ROOT = Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    """Folder for everything generated: executed notebooks, the local volume, logs (PLAYBOOK_BUILD_DIR)."""
    return Path(os.environ.get("PLAYBOOK_BUILD_DIR", REPO_ROOT / "build")).resolve()


def local_volume_dir() -> Path:
    """The local stand-in for a network volume, laid out like /runpod-volume (PLAYBOOK_VOLUME_DIR)."""
    return Path(os.environ.get("PLAYBOOK_VOLUME_DIR", build_dir() / "volume")).resolve()


def demo_model_dir() -> Path:
    """Where the demo pipeline lives on the local volume: <volume>/models/tiny-sd."""
    return local_volume_dir() / "models" / DEMO_MODEL_NAME


def state_dir() -> Path:
    """Where a running local platform records its address and key (PLAYBOOK_STATE_DIR)."""
    return Path(os.environ.get("PLAYBOOK_STATE_DIR", Path.home() / ".cache" / "runpod-playbook")).resolve()


def local_state_file() -> Path:
    return state_dir() / "local-platform.json"


@dataclass(frozen=True)
class Target:
    """One platform: where its job API and control API are, and the key for both."""

    name: str  # "local" or "runpod"
    job_api_url: str  # base for runpod.Endpoint: {job_api_url}/{endpoint_id}/run
    control_api_url: str  # REST v2 base: {control_api_url}/serverless
    api_key: Secret

    def _repr_html_(self) -> str:
        return (
            f"<table><tr><th>target</th><td>{self.name}</td></tr>"
            f"<tr><th>job API</th><td>{self.job_api_url}</td></tr>"
            f"<tr><th>control API</th><td>{self.control_api_url}</td></tr>"
            f"<tr><th>API key</th><td>{self.api_key._repr_html_()}</td></tr></table>"
        )


def runpod_target(api_key: Secret) -> Target:
    return Target("runpod", RUNPOD_JOB_API_URL, RUNPOD_CONTROL_API_URL, api_key)


def local_target() -> Target:
    """The local platform that ``playbook local up`` (or ``playbook.local.start()``) recorded."""
    path = local_state_file()
    if not path.is_file():
        raise ConfigError(
            "No local platform is running. Start one with `playbook local up` "
            "(or `playbook.local.start()` in Python), or set RUNPOD_API_KEY to use RunPod."
        )
    state = json.loads(path.read_text())
    return Target("local", state["job_api_url"], state["control_api_url"], Secret(state["api_key"]))


TARGET_ENV = "PLAYBOOK_TARGET"  # "local" runs the journey locally even with RUNPOD_API_KEY set


def target_name(name: str | None = None) -> str:
    """Which target "auto" means: ``name`` when it is "local" or "runpod"; else PLAYBOOK_TARGET when set
    (``playbook notebooks --target local`` and ``make playbook TARGET=local`` set it); else RunPod when
    RUNPOD_API_KEY is set, and the local platform otherwise."""
    if name in (None, "", "auto"):
        name = os.environ.get(TARGET_ENV, "").strip().lower() or "auto"
    if name == "auto":
        return "runpod" if lookup("RUNPOD_API_KEY") else "local"
    if name not in ("local", "runpod"):
        raise ConfigError(f"target must be 'local', 'runpod' or 'auto' (argument or {TARGET_ENV}), "
                          f"not {excerpt(name)}.")
    return name


def resolve_target(name: str | None = None) -> Target:
    """``name`` is "local", "runpod" or None/"auto" (see ``target_name``)."""
    key = lookup("RUNPOD_API_KEY")
    name = target_name(name)
    if name == "local":
        return local_target()
    if name == "runpod":
        if not key:
            raise ConfigError("target 'runpod' needs RUNPOD_API_KEY: export it or put it in a .env file.")
        return runpod_target(key)
    raise ConfigError(f"target must be 'local', 'runpod' or 'auto', not {excerpt(name)}.")
