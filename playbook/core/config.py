"""Where things are and which platform we talk to.

Two targets, one code path. The **local** platform (``playbook.local``) serves RunPod's job API and
REST control API on loopback; **runpod** is RunPod itself. ``resolve_target()`` picks RunPod when
``RUNPOD_API_KEY`` is set (environment or ``.env``) and the local platform otherwise, unless
``PLAYBOOK_TARGET=local`` (or ``runpod``) says which; every phase takes
the resulting ``Target`` and never branches on its name.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from playbook.core import settings
from playbook.core.errors import ConfigError
from playbook.core.excerpts import clip, excerpt
from playbook.core.html import Html, fields_table
from playbook.core.secrets import Secret, lookup
from playbook.core.settings import (  # noqa: F401 (re-exported: callers import these from config)
    DEMO_MODEL_NAME,
    REPO_ROOT,
    VOLUME_MOUNT,
    build_dir,
    local_volume_dir,
    model_dir,
    state_dir,
)

RUNPOD_JOB_API_URL = "https://api.runpod.ai/v2"  # + /{endpoint_id}/run ...
RUNPOD_CONTROL_API_URL = "https://api.runpod.io/v2"  # + /serverless, /templates ...


def load_mapping(path: str | Path, what: str = "file", suffixes: tuple[str, ...] = (".toml", ".yaml", ".yml", ".json"),
                 fix: str = "") -> dict:
    """The table at the top of a TOML, YAML or JSON file (by suffix), or ConfigError naming ``what`` and
    ``path`` (missing, wrong suffix, not parseable, not a table). ``fix`` is appended to "does not exist"."""
    import tomllib

    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist" + (f"; {fix}" if fix else ""))
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        raise ConfigError(f"{what} {path}: use a {', '.join(suffixes[:-1])} or {suffixes[-1]} file")
    text = path.read_text()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{what} {path} is not valid {suffix[1:].upper()}: {clip(exc, 300)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a table of fields at the top level")
    return data


WORKER_DIR = REPO_ROOT / "worker"


def worker_on_path() -> Path:
    """Put the repository's ``worker/`` on ``sys.path``: the playbook imports the worker's code (the worker
    never imports the playbook)."""
    if str(WORKER_DIR) not in sys.path:
        sys.path.insert(0, str(WORKER_DIR))
    return WORKER_DIR


def demo_model_dir() -> Path:
    """Where the demo pipeline lives on the local volume: <volume>/models/tiny-sd."""
    return model_dir(local_volume_dir())


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
        return fields_table({"target": self.name, "job API": self.job_api_url, "control API": self.control_api_url,
                             "API key": Html(self.api_key._repr_html_())})


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


TARGET_ENV = "PLAYBOOK_TARGET"  # "local" runs the journey locally even with RUNPOD_API_KEY set (settings.target)


def target_name(name: str | None = None) -> str:
    """Which target "auto" means: ``name`` when it is "local" or "runpod"; else PLAYBOOK_TARGET when set
    (``playbook notebooks --target local`` and ``make playbook TARGET=local`` set it); else RunPod when
    RUNPOD_API_KEY is set, and the local platform otherwise."""
    if name in (None, "", "auto"):
        name = settings.target()
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
