"""RunPod Hub files (``.runpod/hub.json`` and ``.runpod/tests.json``), generated from the deployment spec
and the worker's contract, and linted against the fields RunPod documents.

Why generated: the Hub reads GPU pools, CUDA versions, container disk and env inputs from ``hub.json`` and
runs ``tests.json`` after each release; written by hand they drift from the spec the playbook deploys and
from the requests the worker accepts. Here ``gpuIds`` comes from the spec's pools (GPU names become pool
ids plus ``-type`` negations), ``allowedCudaVersions`` from the spec's ``min_cuda_version`` or the CUDA of
the Dockerfile's base image, the env inputs from the worker's settings, and the tests from the contract's
examples. The Hub counts a test as passed on HTTP 200; ``playbook hub test`` (``playbook.journey.hub_trial``) also
checks each output against the contract.

Field reference: RunPod's "Hub publishing guide" (docs.runpod.io/hub/publishing-guide), mirrored by the
pydantic models below with ``extra="forbid"``, so a misspelt or undocumented field is an error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from playbook.api.gpus import Catalog, default_catalog
from playbook.core.config import REPO_ROOT, VOLUME_MOUNT
from playbook.deploy.spec import DeploymentSpec, load_spec
from playbook.journey import contract

HUB_DIR = REPO_ROOT / ".runpod"
DEFAULT_SPEC = REPO_ROOT / "deploy" / "demo.toml"
DOCKERFILE = REPO_ROOT / "worker" / "Dockerfile"
# CUDA versions RunPod hosts report (newest first); a worker built for CUDA X runs on hosts with X or newer.
CUDA_VERSIONS = ("13.0", "12.9", "12.8", "12.7", "12.6", "12.5", "12.4", "12.3", "12.2", "12.1", "12.0")
TEST_TIMEOUT_MS = 300_000  # a cold worker on the Hub pulls the image and loads the model first
CATEGORIES = ("audio", "embedding", "language", "video", "image")


# -- the documented fields (publishing guide), strict -----------------------------------------------------

class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Option(_Doc):
    label: str
    value: str


class EnvInput(_Doc):
    name: str
    type: Literal["string", "number", "boolean", "huggingface"]
    description: str | None = None
    default: str | int | float | bool | None = None
    advanced: bool | None = None
    options: list[Option] | None = None
    min: float | None = None
    max: float | None = None
    trueValue: str | None = None  # noqa: N815 - RunPod's field names
    falseValue: str | None = None  # noqa: N815


class EnvEntry(_Doc):
    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str | None = None
    input: EnvInput | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.value is None) == (self.input is None):
            raise ValueError(f"env entry {self.key} needs exactly one of value or input")
        return self


class Preset(_Doc):
    name: str
    defaults: dict[str, str | int | float | bool]


class HubConfig(_Doc):
    runsOn: Literal["GPU", "CPU"]  # noqa: N815
    containerDiskInGb: int = Field(ge=1)  # noqa: N815
    cpuFlavor: str | None = None  # noqa: N815
    gpuCount: int | None = Field(None, ge=1)  # noqa: N815
    gpuIds: str | None = None  # noqa: N815
    allowedCudaVersions: list[str] | None = None  # noqa: N815
    env: list[EnvEntry] | None = None
    presets: list[Preset] | None = None


class HubJson(_Doc):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    type: Literal["serverless"]
    category: Literal["audio", "embedding", "language", "video", "image"]
    iconUrl: str | None = Field(None, pattern=r"^https?://")  # noqa: N815
    config: HubConfig


class KeyValue(_Doc):
    key: str
    value: str


class HubTest(_Doc):
    name: str = Field(min_length=1)
    input: dict
    timeout: int | None = Field(None, ge=1, description="milliseconds")


class TestConfig(_Doc):
    gpuTypeId: str | None = None  # noqa: N815
    gpuCount: int | None = Field(None, ge=1)  # noqa: N815
    cpuFlavor: str | None = None  # noqa: N815
    env: list[KeyValue] | None = None
    allowedCudaVersions: list[str] | None = None  # noqa: N815


class TestsJson(_Doc):
    tests: list[HubTest] = Field(min_length=1)
    config: TestConfig


# -- generation ------------------------------------------------------------------------------------------

def base_image_cuda(dockerfile: Path = DOCKERFILE) -> str | None:
    """The CUDA version the cloud image needs: its Dockerfile's base image when that names one
    (``...cuda12.8...``), else the CUDA build of the torch it installs (``build.CLOUD_CUDA_VERSION``)."""
    from playbook.image.build import CLOUD_CUDA_VERSION

    match = re.search(r"^ARG BASE_IMAGE=\S*?cuda(\d+\.\d+)", dockerfile.read_text(), re.M)
    return match.group(1) if match else CLOUD_CUDA_VERSION


def allowed_cuda(spec: DeploymentSpec) -> list[str]:
    floor = spec.min_cuda_version or base_image_cuda() or CUDA_VERSIONS[-1]
    key = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    return [v for v in CUDA_VERSIONS if key(v) >= key(floor)]


def gpu_ids(spec: DeploymentSpec, catalog: Catalog) -> str:
    pools, excluded = catalog.resolve(spec.gpus)
    return ",".join([*pools, *(f"-{t}" for t in excluded)])


def env_entries(spec: DeploymentSpec) -> list[dict]:
    """The worker's settings as Hub inputs (defaults from the spec's env), then the spec's other env as values."""
    model_path = spec.env.get("MODEL_PATH", f"{VOLUME_MOUNT}/models/tiny-sd")
    inputs = [
        {"key": "MODEL_PATH", "input": {
            "name": "Model folder", "type": "string", "default": model_path, "advanced": False,
            "description": "a diffusers pipeline folder; /runpod-volume is the network volume"}},
        {"key": "WORKER_DTYPE", "input": {
            "name": "Precision", "type": "string", "default": spec.env.get("WORKER_DTYPE", "auto"),
            "description": "auto: fp16 or bf16 on a GPU, fp32 on a CPU",
            "options": [{"label": v, "value": v} for v in ("auto", "fp16", "bf16", "fp32")]}},
        {"key": "WORKER_MAX_OUTPUT_BYTES", "input": {
            "name": "Largest result (bytes)", "type": "number", "advanced": True,
            "default": int(spec.env.get("WORKER_MAX_OUTPUT_BYTES", 10_000_000)), "min": 1_000_000,
            "max": 20_000_000, "description": "results above it are refused with advice (RunPod caps /run at 10 MB)"}},
        {"key": "BUCKET_ENDPOINT_URL", "input": {
            "name": "Bucket endpoint URL", "type": "string", "default": "", "advanced": True,
            "description": "set it (and the bucket keys as endpoint secrets) to get image URLs instead of base64"}},
    ]
    taken = {e["key"] for e in inputs}
    return inputs + [{"key": k, "value": v} for k, v in spec.env.items() if k not in taken]


def hub_json(spec: DeploymentSpec, catalog: Catalog | None = None) -> dict:
    catalog = catalog or default_catalog()
    return {
        "title": "Diffusers text-to-image (runpod-playbook)",
        "description": "Text-to-image with any diffusers pipeline folder: typed requests (generate, health_check) "
                       "with clear errors, PNG/JPEG/WebP output, optional bucket upload. Request format: "
                       "worker/README.md.",
        "type": "serverless",
        "category": "image",
        "config": {"runsOn": "GPU", "containerDiskInGb": spec.container_disk_gb, "gpuCount": spec.gpu_count,
                   "gpuIds": gpu_ids(spec, catalog), "allowedCudaVersions": allowed_cuda(spec),
                   "env": env_entries(spec)},
    }


def tests_json(spec: DeploymentSpec, catalog: Catalog | None = None) -> dict:
    catalog = catalog or default_catalog()
    pools, excluded = catalog.resolve(spec.gpus)
    gpu_type = next(t for t in catalog[pools[0]].gpu_types if t not in excluded)
    model_path = spec.env.get("MODEL_PATH", f"{VOLUME_MOUNT}/models/tiny-sd")
    return {
        "tests": [{"name": name, "input": body["input"], "timeout": TEST_TIMEOUT_MS}
                  for name, body in contract.examples().items()],
        "config": {"gpuTypeId": gpu_type, "gpuCount": spec.gpu_count,
                   "env": [{"key": "MODEL_PATH", "value": model_path}],
                   "allowedCudaVersions": allowed_cuda(spec)},
    }


def documents(spec: DeploymentSpec | None = None) -> dict[Path, str]:
    spec = spec or load_spec(DEFAULT_SPEC)
    dump = lambda d: json.dumps(d, indent=2) + "\n"  # noqa: E731
    return {HUB_DIR / "hub.json": dump(hub_json(spec)), HUB_DIR / "tests.json": dump(tests_json(spec))}


def drifted(spec: DeploymentSpec | None = None) -> list[Path]:
    return [p for p, text in documents(spec).items() if not p.exists() or p.read_text() != text]


def write(spec: DeploymentSpec | None = None) -> list[Path]:
    docs, changed = documents(spec), drifted(spec)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(docs[path])
    return changed


# -- lint ------------------------------------------------------------------------------------------------

def lint(hub: dict, tests: dict, catalog: Catalog | None = None) -> list[str]:
    """Problems with the two files, one line each naming the field; empty when both are valid."""
    catalog = catalog or default_catalog()
    problems = []
    for name, model, data in (("hub.json", HubJson, hub), ("tests.json", TestsJson, tests)):
        try:
            model.model_validate(data)
        except ValidationError as exc:
            problems += [f"{name}: {'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
    if problems:
        return problems
    config = hub["config"]
    if config["runsOn"] == "GPU" and not (config.get("gpuIds") and config.get("gpuCount")):
        problems.append("hub.json: config: runsOn GPU needs gpuIds and gpuCount")
    if config["runsOn"] == "CPU" and not config.get("cpuFlavor"):
        problems.append("hub.json: config: runsOn CPU needs cpuFlavor")
    types = {t for p in catalog.pools.values() for t in p.gpu_types}
    for part in (config.get("gpuIds") or "").split(","):
        if part and part.lstrip("-") not in (types if part.startswith("-") else catalog.pools):
            problems.append(f"hub.json: config.gpuIds: {part!r} is not a pool id ({', '.join(catalog.pools)}) "
                            "or a negated GPU type id (-NVIDIA ...)")
    for where, versions in (("hub.json: config", config.get("allowedCudaVersions")),
                            ("tests.json: config", tests["config"].get("allowedCudaVersions"))):
        bad = [v for v in versions or [] if v not in CUDA_VERSIONS]
        if bad:
            problems.append(f"{where}.allowedCudaVersions: unknown {bad}; known: {', '.join(CUDA_VERSIONS)}")
    gpu_type = tests["config"].get("gpuTypeId")
    if gpu_type and gpu_type not in types:
        problems.append(f"tests.json: config.gpuTypeId {gpu_type!r} is not a GPU type id (see `playbook gpus`)")
    for entry in config.get("env") or []:
        spec = entry.get("input") or {}
        values = [o["value"] for o in spec.get("options") or []]
        if values and spec.get("default") not in values:
            problems.append(f"hub.json: env {entry['key']}: default {spec.get('default')!r} is not an option")
    names = [t["name"] for t in tests["tests"]]
    if len(set(names)) != len(names):
        problems.append("tests.json: tests: names must be unique")
    return problems
