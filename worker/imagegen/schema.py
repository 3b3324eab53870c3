"""What a job may ask for, validated with pydantic.

Why pydantic and not RunPod's ``rp_validator``: in runpod 1.12 a rule with a default skips its
constraints (``{"num_inference_steps": 500}`` passes a 1..100 rule when a default is set) and a wrong
type raises ``TypeError`` out of ``validate()`` instead of an error message. Here every bad field gets
one line naming the field, what was sent and what is allowed; nothing is silently corrected.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imagegen.excerpts import excerpt, listing

ACTIONS = ("generate", "health_check")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
MIN_SIDE, MAX_SIDE = 64, 2048


class GenerateInput(BaseModel):
    """The ``generate`` action's input (``{"input": {"prompt": ..., ...}}``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=2000, description="what to draw")
    negative_prompt: str | None = Field(None, max_length=2000, description="what to avoid")
    width: int = Field(512, ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8, description="pixels")
    height: int = Field(512, ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8, description="pixels")
    num_inference_steps: int = Field(25, ge=1, le=100, description="denoising steps")
    guidance_scale: float = Field(7.5, ge=0.0, le=30.0, description="classifier-free guidance")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="image i uses seed + i; random when absent")
    num_images: int = Field(1, ge=1, le=8, description="images per request")
    output_format: Literal["png", "jpeg", "webp"] = Field("png", description="image encoding")


class InputError(ValueError):
    """A request the worker refuses; its message is returned to the caller as ``{"error": ...}``."""


@cache
def _properties() -> dict:
    return GenerateInput.model_json_schema()["properties"]


@cache
def allowed(name: str) -> str:
    """What the schema allows for one field, in words (from the JSON schema, so it cannot drift)."""
    props = _properties()
    if name not in props:
        return "known fields: " + ", ".join(GenerateInput.model_fields)
    spec = props[name]
    options = spec.get("anyOf", [spec])
    parts = []
    for opt in options:
        if opt.get("type") == "null":
            continue
        if "enum" in opt:
            parts.append("one of " + ", ".join(map(str, opt["enum"])))
            continue
        words = [opt.get("type", "value")]
        if "multipleOf" in opt:
            words.append(f"a multiple of {opt['multipleOf']}")
        if "minimum" in opt and "maximum" in opt:
            words.append(f"from {opt['minimum']} to {opt['maximum']}")
        if "minLength" in opt or "maxLength" in opt:
            words.append(f"{opt.get('minLength', 0)} to {opt.get('maxLength')} characters")
        parts.append(", ".join(words))
    text = " or ".join(parts)
    if "anyOf" in spec:
        text += " (or omit it)"
    return text


def describe(error: ValidationError) -> str:
    """One line per bad field: name, what was sent, why it is refused and what is allowed."""
    lines = []
    for err in error.errors():
        field = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "input"
        field = field.split(".")[0]
        if err["type"] == "missing":
            lines.append(f"'{field}' is required; allowed: {allowed(field)}")
        elif err["type"] == "extra_forbidden":
            lines.append(f"'{field}' is not a known field; {allowed(field)}")
        else:
            lines.append(f"'{field}' = {excerpt(err['input'])} is invalid ({_short(err['msg'])}); "
                         f"allowed: {allowed(field)}")
    # pydantic may report one field several times (one per union member): keep the first
    seen, unique = set(), []
    for line in lines:
        key = line.split("'")[1]
        if key not in seen:
            seen.add(key)
            unique.append(line)
    return "invalid input: " + "; ".join(unique)


def _short(msg: str) -> str:
    """pydantic's message, which may quote the input (an enum or literal error), kept short."""
    return msg if len(msg) <= 200 else msg[:200] + "..."


def unknown_fields(fields: dict) -> str | None:
    """The bounded complaint about fields the schema does not know, or None. Checked before pydantic, so
    10,000 unknown keys cost one set difference, not 10,000 error records."""
    unknown = fields.keys() - GenerateInput.model_fields.keys()
    if not unknown:
        return None
    if len(unknown) == 1:
        return f"{excerpt(next(iter(unknown)), 80)} is not a known field; {allowed('')}"
    in_order = (k for k in fields if k in unknown)
    return f"{listing(in_order, 'unknown fields', count=len(unknown))}; {allowed('')}"


def parse_action(job_input) -> str:
    """The requested action (default ``generate``); a clear error for anything else."""
    if not isinstance(job_input, dict):
        raise InputError(f"'input' must be a JSON object, not {type(job_input).__name__}; "
                         'e.g. {"input": {"prompt": "a lighthouse at dusk"}}')
    action = job_input.get("action", "generate")
    if action not in ACTIONS:
        raise InputError(f"unknown action {excerpt(action)}; allowed actions: {', '.join(ACTIONS)}")
    return action


def parse_generate(job_input: dict) -> GenerateInput:
    fields = {k: v for k, v in job_input.items() if k != "action"}
    complaint = unknown_fields(fields)
    if complaint:
        raise InputError("invalid input: " + complaint)
    try:
        return GenerateInput.model_validate(fields)
    except ValidationError as exc:
        raise InputError(describe(exc)) from None
