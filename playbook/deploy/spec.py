"""One declarative description of a deployment, read from a TOML or YAML file.

Why: most lost hours in the seed story were control-plane mistakes made by hand or by scripts re-run
with different arguments. A spec file states what should exist (endpoint, GPU pools, scaling, network
volume); ``playbook plan`` shows how RunPod differs from it and ``playbook apply`` converges it.

How: ``load_spec(path)`` parses the file and validates it with pydantic; every error names the field
(``workers.max``) and the fix. Secrets are never written in the file: ``[secrets]`` maps an endpoint
environment variable to the *name* of a local environment variable (or .env entry) read at apply time,
and an ``[env]`` entry whose name looks secret (KEY, TOKEN, SECRET, PASSWORD) is refused.

Example (``deploy/demo.toml``)::

    name = "playbook-demo"
    image = "local/playbook-worker:latest"
    gpus = ["AMPERE_16", "AMPERE_24"]      # pool ids or GPU names ("RTX 4090")
    [workers]
    max = 3
    [volume]
    name = "playbook-models"
    size_gb = 10
    data_center = "EU-RO-1"
    [secrets]
    HF_TOKEN = "HF_TOKEN"                  # endpoint env var = name of the local env var

A ``[model]`` table (``deploy/model.toml``) adds the weights: ``source`` (a local diffusers folder, or
``demo:tiny``), ``dest`` on the volume, ``variant`` and ``dtype``; ``apply`` pushes them to the volume through
RunPod's S3 API, verifies them and sets the endpoint's MODEL_PATH (``playbook.deploy.model_plan``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from playbook.core.config import load_mapping
from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt
from playbook.core.html import fields_table
from playbook.core.secrets import Secret, lookup

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_WORDS = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Workers(_Strict):
    """Worker bounds; ``min = 0`` is what gives zero idle cost."""

    min: int = Field(0, ge=0, description="workers kept running (each one bills all the time)")
    max: int = Field(3, ge=0, description="most workers at once")
    idle_timeout_s: int = Field(5, ge=1, le=3600, description="seconds a worker idles before it stops")

    @model_validator(mode="after")
    def _bounds(self):
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class Scaler(_Strict):
    """QUEUE_DELAY: add workers when a job waits ``value`` seconds; REQUEST_COUNT: one worker per
    ``value`` queued requests."""

    type: Literal["QUEUE_DELAY", "REQUEST_COUNT"] = "QUEUE_DELAY"
    value: float = 4

    @model_validator(mode="after")
    def _value(self):
        if self.type == "QUEUE_DELAY" and self.value < 0.5:
            raise ValueError("QUEUE_DELAY value is seconds and must be at least 0.5")
        if self.type == "REQUEST_COUNT" and (self.value < 1 or self.value != int(self.value)):
            raise ValueError("REQUEST_COUNT value is a whole number of requests, at least 1")
        return self

    def body(self) -> dict:
        if self.type == "QUEUE_DELAY":
            return {"type": "QUEUE_DELAY", "queueDelay": float(self.value)}
        return {"type": "REQUEST_COUNT", "requestCount": int(self.value)}


class Volume(_Strict):
    """A network volume: it lives in one data center and pins the endpoint's workers there."""

    name: str = Field(min_length=1)
    size_gb: int = Field(ge=10, le=4096, description="GB; volumes grow but never shrink")
    data_center: str = Field(min_length=1, description="e.g. EU-RO-1, US-KS-2")
    type: Literal["STANDARD", "HIGH_PERFORMANCE"] = "STANDARD"


class Model(_Strict):
    """The weights: a local diffusers folder that apply pushes to the volume through RunPod's S3 API and
    that the endpoint's MODEL_PATH then points at. ``source = "demo:tiny"`` is the playbook's demo model
    (made in the build folder on first use)."""

    source: str = Field(min_length=1, description="local model folder, or demo:<size>")
    dest: str = Field("models/model", pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
                      description="folder on the volume, under /runpod-volume")
    variant: str | None = Field(None, description="e.g. fp16: push the <name>.fp16.safetensors files and set "
                                "the endpoint's MODEL_VARIANT (unset: the plain files, or the folder's only variant)")
    dtype: Literal["float32", "float16", "bfloat16"] | None = None

    @model_validator(mode="after")
    def _dest(self):
        if ".." in self.dest.split("/"):
            raise ValueError("dest must stay inside the volume (no '..')")
        return self

    def model_path(self) -> str:
        """MODEL_PATH as a worker sees it."""
        return f"/runpod-volume/{self.dest}"

    def local_folder(self) -> Path:
        if self.source.startswith("demo:"):
            from playbook.core.config import build_dir
            from playbook.core.settings import model_dir
            from playbook.weights.demo_model import ensure_demo_model

            size = self.source.removeprefix("demo:")
            return ensure_demo_model(model_dir(build_dir() / "demo-models", f"demo-{size}"), size=size)
        folder = Path(self.source).expanduser()
        if not (folder / "model_index.json").is_file():
            raise ConfigError(f"model.source: {str(folder)[:200]} is not a diffusers pipeline folder (no "
                              "model_index.json)")
        return folder


class DeploymentSpec(_Strict):
    """What should exist on the target. Field names carry units (``_s``, ``_gb``)."""

    name: str = Field(min_length=1, max_length=191, description="endpoint name; apply finds it by name")
    image: str = Field(min_length=1, description="container image, e.g. registry/user/worker:1.0")
    gpus: list[str] = Field(min_length=1, description="pool ids (ADA_24) or GPU names (RTX 4090)")
    gpu_count: int = Field(1, ge=1, le=8)
    workers: Workers = Workers()
    scaler: Scaler = Scaler()
    flashboot: Literal["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"] = "OFF"
    execution_timeout_s: int = Field(300, ge=1, le=7 * 24 * 3600, description="per job")
    container_disk_gb: int = Field(10, ge=1, le=1000)
    data_centers: list[str] = Field(default_factory=list, description="empty: the volume's data center")
    min_cuda_version: str | None = Field(None, pattern=r"^\d+\.\d+$")
    volume: Volume | None = None
    model: Model | None = None
    max_spend_per_hour: float | None = Field(None, gt=0, description="USD; plan/apply refuse a spec whose "
                                             "workers.max x pool price can bill more in an hour")
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict,
                                    description="endpoint env var -> name of a local env var holding it")

    @model_validator(mode="after")
    def _checks(self):
        for key, value in self.env.items():
            if not re.match(ENV_NAME, key):
                raise ValueError(f"env: {excerpt(key)} is not a valid environment variable name")
            if SECRET_WORDS.search(key) and value:
                raise ValueError(
                    f"env.{key} looks like a secret written inline. Move it to [secrets] as "
                    f'{key} = "LOCAL_ENV_VAR_NAME" and export LOCAL_ENV_VAR_NAME (or put it in .env)')
        for key, var in self.secrets.items():
            if not re.match(ENV_NAME, key) or not re.match(ENV_NAME, var):
                raise ValueError(f"secrets.{key} must name an environment variable (LIKE_THIS), "
                                 "never hold the secret itself")
            if key in self.env:
                raise ValueError(f"{key} is set in both env and secrets; keep one")
        if self.model and not self.volume:
            raise ValueError("model: the weights go on the network volume, so add a [volume] table (name, "
                             "size_gb, data_center); to bake them into the image instead use "
                             "`playbook build --bake-model PATH` and drop [model]")
        if self.model and self.env.get("MODEL_PATH", self.model.model_path()) != self.model.model_path():
            raise ValueError(f"env.MODEL_PATH ({self.env['MODEL_PATH']}) disagrees with [model] dest "
                             f"({self.model.model_path()}); remove env.MODEL_PATH, apply sets it")
        variant = self.model.variant if self.model else None
        if variant and self.env.get("MODEL_VARIANT", variant) != variant:
            raise ValueError(f"env.MODEL_VARIANT ({excerpt(self.env['MODEL_VARIANT'])}) disagrees with [model] "
                             f"variant ({excerpt(variant)}); remove env.MODEL_VARIANT, apply sets it")
        if self.volume and self.data_centers and self.volume.data_center not in self.data_centers:
            raise ValueError(
                f"data_centers {self.data_centers} exclude the volume's data center "
                f"{excerpt(self.volume.data_center)}: workers could never mount it. Add "
                f"{excerpt(self.volume.data_center)} to data_centers, or leave data_centers empty")
        return self

    def endpoint_data_centers(self) -> list[str]:
        """Where workers may run: the spec's list, else the volume's data center, else anywhere ([])."""
        if self.data_centers:
            return list(self.data_centers)
        return [self.volume.data_center] if self.volume else []

    def resolved_env(self) -> dict[str, str | Secret]:
        """Plain env plus secrets read from the local environment now (values stay ``Secret``s)."""
        env: dict[str, str | Secret] = dict(self.env)
        if self.model:
            env["MODEL_PATH"] = self.model.model_path()
            if self.model.variant:  # the worker loads the variant that was pushed
                env["MODEL_VARIANT"] = self.model.variant
        for key, var in self.secrets.items():
            secret = lookup(var)
            if secret is None:
                raise ConfigError(f"secrets.{key} reads the environment variable {var}, which is not set: "
                                  f"export {var}=... or add it to .env")
            env[key] = secret
        return env

    def save(self, path: str | Path) -> Path:
        """Write the spec as YAML (what a notebook picked becomes a file that `playbook apply` reads)."""
        import yaml

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.model_dump(exclude_none=True)
        header = "# written by playbook.deploy.spec.DeploymentSpec.save\n"
        path.write_text(header + yaml.safe_dump(data, sort_keys=False))
        return path

    def with_changes(self, **changes) -> DeploymentSpec:
        """A validated copy with some fields changed (e.g. ``image=...``)."""
        return spec_from_dict({**self.model_dump(), **changes}, source="with_changes")

    def _repr_html_(self) -> str:
        def flat(value):  # {'min': 0, 'max': 3} as "min 0, max 3"; lists joined; empty values left blank
            if isinstance(value, dict):
                return ", ".join(f"{k} {v}" for k, v in value.items()) or None
            if isinstance(value, list):
                return ", ".join(map(str, value)) or None
            return value

        return fields_table({k: flat(v) for k, v in self.model_dump().items()})


def spec_from_dict(data: dict, source: str = "spec") -> DeploymentSpec:
    try:
        return DeploymentSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None


def load_spec(path: str | Path) -> DeploymentSpec:
    """Read and validate a spec file (``.toml``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    data = load_mapping(path, "spec file", (".toml", ".yaml", ".yml"), fix="copy deploy/demo.toml and edit it")
    return spec_from_dict(data, source=str(path))


def _explain(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} invalid field(s)"]
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field; known fields: {', '.join(_known(err['loc']))}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def _known(loc: tuple) -> list[str]:
    model: type[BaseModel] = DeploymentSpec
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        ann = next((a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
                    and issubclass(a, BaseModel)), ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
    return list(model.model_fields)
