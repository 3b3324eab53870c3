"""The REST v2 serverless endpoint body, typed once (RunPod's ``CreateEndpointRequest`` and
``UpdateEndpointRequest``, ``docs/runpod/rest-v2-beta.openapi.json``).

One model, three users:

* the control client checks every endpoint body before it sends it, so a field RunPod would refuse is
  named here, with its path, before any round trip;
* ``deploy`` builds its create body with it and validates the PATCH its diff makes;
* the local control API parses requests with it and applies the same v2 defaults RunPod does.

The models are strict and refuse unknown fields, as RunPod answers 422 to them.

RunPod's v2 API has defaults that differ from its own docs (docs/runpod-facts.md §3.3): a create without them gets
an idle timeout of 10 s (the docs say 5), FlashBoot off (the docs say on for new endpoints) and a 300 s execution
timeout (the docs say 600 s). ``V2_DEFAULTS`` records both. The local platform applies the v2 values; ``deploy``
sends every such field explicitly so that neither default matters, and ``plan`` shows each one beside both
defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt

FlashBoot = Literal["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"]
Cuda = Annotated[str, Field(pattern=r"^\d+\.\d+$")]


class Body(BaseModel):
    """A request body as RunPod checks it: exact types, no unknown field."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Container(Body):
    """``ContainerConfig``: what a template, a pod and an endpoint share (a change makes a new release)."""

    image: str | None = None
    args: str | None = None
    disk: int | None = Field(None, ge=1)
    env: dict[str, str] | None = None
    ports: list[str] | None = None
    registry: str | None = None


class Workers(Body):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)
    idleTimeout: int | None = Field(None, ge=1, le=3600)


class QueueDelay(Body):
    type: Literal["QUEUE_DELAY"]
    queueDelay: float = Field(ge=0.5)


class RequestCount(Body):
    type: Literal["REQUEST_COUNT"]
    requestCount: int = Field(ge=1)


Scaling = Annotated[QueueDelay | RequestCount, Field(discriminator="type")]


class Gpu(Body):
    pools: list[str] | None = Field(None, min_length=1)
    excludedTypes: list[str] | None = None
    count: int | None = Field(None, ge=1)
    allowedCudaVersions: list[Cuda] | None = None
    minCudaVersion: Annotated[str, Field(pattern=r"^$|^\d+\.\d+$")] | None = None


class EndpointUpdate(Container):
    """``UpdateEndpointRequest``: a PATCH, only the fields present change."""

    spec_name: ClassVar[str] = "UpdateEndpointRequest"

    name: str | None = Field(None, min_length=1)
    gpu: Gpu | None = None
    cpu: list[dict] | None = None
    dataCenterIds: list[str] | None = None
    networkVolumes: list[str] | None = None
    scaling: Scaling | None = None
    templateId: str | None = None
    timeout: int | None = Field(None, ge=1)
    flashboot: FlashBoot | None = None
    workers: Workers | None = None


class EndpointCreate(EndpointUpdate):
    """``CreateEndpointRequest``: ``name``, ``type`` and ``scaling`` are required."""

    spec_name: ClassVar[str] = "CreateEndpointRequest"

    name: str = Field(min_length=1)
    type: Literal["QUEUE", "LOAD_BALANCER"]
    scaling: Scaling


# -- defaults ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Default:
    """A field RunPod's v2 API fills in when a create leaves it out."""

    field: str  # dotted path in the body
    v2: Any  # what v2 applies (the spec's "default")
    docs: Any  # what RunPod's docs say (None where they agree with v2)
    meaning: str


V2_DEFAULTS = (
    Default("workers.min", 0, None, "workers kept running with no traffic (billed all the time)"),
    Default("workers.max", 3, None, "workers at most"),
    Default("workers.idleTimeout", 10, 5, "seconds an idle worker waits, billed, before it stops"),
    Default("flashboot", "OFF", "FLASHBOOT", "FlashBoot (faster cold starts)"),
    Default("timeout", 300_000, 600_000, "milliseconds a job may run before it fails"),
)
V2_DEFAULT = {d.field: d.v2 for d in V2_DEFAULTS}


def value_at(body: dict, path: str) -> Any:
    """``body["workers"]["idleTimeout"]`` for ``"workers.idleTimeout"``; None when any part is missing."""
    for key in path.split("."):
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def defaults_note(body: dict) -> str:
    """For ``plan``: the fields whose v2 default differs from RunPod's docs, with what ``body`` sends instead of
    either (or that it sends nothing, so RunPod's v2 default applies)."""
    parts = []
    for d in V2_DEFAULTS:
        if d.docs is None:
            continue
        sent = value_at(body, d.field)
        defaults = f"v2 default {d.v2!r}, docs {d.docs!r}"
        if sent is not None:
            parts.append(f"{d.field}={sent!r} ({defaults})")
        elif d.field == "workers.idleTimeout" and value_at(body, "scaling.type") == "REQUEST_COUNT":
            parts.append(f"{d.field} not sent: v2 refuses it with REQUEST_COUNT scaling ({defaults})")
        else:
            parts.append(f"{d.field} NOT sent, so RunPod applies {d.v2!r} ({defaults})")
    return "RunPod's v2 defaults differ from its docs, so the spec sets each field: " + "; ".join(parts)


# -- checking -----------------------------------------------------------------------------------------------

MAX_ERROR_LINES = 20


def error_lines(exc: ValidationError) -> list[str]:
    """One short line per error ("workers.idleTimeout: ..."), at most MAX_ERROR_LINES and a count of the rest
    (a body with 10,000 unknown fields gets 21 lines, not 10,000). Values are never echoed: they may be secrets."""
    errors = []
    total = exc.error_count()
    for err in exc.errors(include_input=False, include_url=False)[:MAX_ERROR_LINES]:
        where = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("_", "function"))) or "body"
        msg = "unknown field (not in the schema)" if err["type"] == "extra_forbidden" else err["msg"]
        errors.append(f"{excerpt(where, 100).strip(chr(39))}: {msg[:200]}")
    if total > MAX_ERROR_LINES:
        errors.append(f"... and {total - MAX_ERROR_LINES:,} more errors ({total:,} in all)")
    return errors


def check(body: dict, model: type[Body]) -> dict:
    """``body`` unchanged when ``model`` accepts it; else a ConfigError naming each field and what is wrong."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        lines = "\n  ".join(error_lines(exc))
        name = getattr(model, "spec_name", model.__name__)
        raise ConfigError(f"RunPod's REST v2 API would refuse this body ({name}):\n  {lines}\nFix the fields "
                          f"named above (see {name} in RunPod's OpenAPI spec).") from None
    return body
