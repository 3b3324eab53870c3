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

# RunPod's addresses, each overridable the way the runpod SDK does it (environment or .env): RUNPOD_API_BASE_URL
# is read by runpod/api/graphql.py (default https://api.runpod.io; REST v2 lives under its /v2), and
# RUNPOD_ENDPOINT_BASE_URL by runpod/__init__.py (the job API). RUNPOD_S3_ENDPOINT_URL is the playbook's own:
# the S3 API of each data center, "{dc}" standing for the lower-cased data-center id.
API_BASE_URL_ENV, ENDPOINT_BASE_URL_ENV, S3_ENDPOINT_URL_ENV = (
    "RUNPOD_API_BASE_URL", "RUNPOD_ENDPOINT_BASE_URL", "RUNPOD_S3_ENDPOINT_URL")
RUNPOD_API_BASE_URL = "https://api.runpod.io"  # + /v2 (REST), /graphql (the SDK)
RUNPOD_JOB_API_URL = "https://api.runpod.ai/v2"  # + /{endpoint_id}/run ...
RUNPOD_CONTROL_API_URL = RUNPOD_API_BASE_URL + "/v2"  # + /serverless, /templates ...
RUNPOD_S3_ENDPOINT_URL = "https://s3api-{dc}.runpod.io/"  # {dc}: eu-ro-1, us-ks-2 ...
RUNPOD_ADDRESSES = {  # variable: (default, meaning), as the README's Settings table shows them
    API_BASE_URL_ENV: (RUNPOD_API_BASE_URL, "RunPod's API host (the runpod SDK's variable); REST v2 is under /v2"),
    ENDPOINT_BASE_URL_ENV: (RUNPOD_JOB_API_URL, "RunPod's job API (the runpod SDK's variable): "
                            "{base}/{endpoint_id}/run ..."),
    S3_ENDPOINT_URL_ENV: (RUNPOD_S3_ENDPOINT_URL, "the S3 API of a network volume's data center; {dc} is "
                          "replaced by the lower-cased data-center id"),
}


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
    """One platform: where its job API, control API and volumes' S3 API are, and the key for the first two."""

    name: str  # "local" or "runpod"
    job_api_url: str  # base for runpod.Endpoint: {job_api_url}/{endpoint_id}/run
    control_api_url: str  # REST v2 base: {control_api_url}/serverless
    api_key: Secret
    s3_api_url: str = ""  # "{dc}" = lower-cased data center; "" = the local platform's, beside its control API

    def s3_endpoint_url(self, data_center: str) -> str:
        """The S3 API of ``data_center``'s network volumes on this target."""
        template = self.s3_api_url or self.control_api_url.rstrip("/").removesuffix("/v2") + "/s3api/{dc}"
        return template.replace("{dc}", data_center.lower())

    def _repr_html_(self) -> str:
        return fields_table({"target": self.name, "job API": self.job_api_url, "control API": self.control_api_url,
                             "S3 API": self.s3_endpoint_url("{dc}"), "API key": Html(self.api_key._repr_html_())})


def _address(name: str) -> str:
    """A RunPod address from the environment or .env (default: RunPod's own), checked and without a trailing /."""
    default = RUNPOD_ADDRESSES[name][0]
    found = lookup(name)
    value = found.reveal().strip() if found else default
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must be an http(s) URL such as {default}, not {excerpt(value)}; "
                          f"unset it to use RunPod's own.")
    if name == API_BASE_URL_ENV and value.rstrip("/").endswith("/v2"):
        raise ConfigError(f"{name} is the API host without /v2 (the runpod SDK appends /graphql, the playbook "
                          f"/v2), such as {default}, not {excerpt(value)}.")
    return value if name == S3_ENDPOINT_URL_ENV else value.rstrip("/")


def runpod_target(api_key: Secret) -> Target:
    """RunPod, at its own addresses or at the ones RUNPOD_API_BASE_URL, RUNPOD_ENDPOINT_BASE_URL and
    RUNPOD_S3_ENDPOINT_URL name (a proxy, a regional host, a stand-in such as `playbook local env --as-runpod`)."""
    return Target("runpod", _address(ENDPOINT_BASE_URL_ENV), _address(API_BASE_URL_ENV) + "/v2", api_key,
                  _address(S3_ENDPOINT_URL_ENV))


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
