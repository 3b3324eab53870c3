"""What a job may ask for, as one typed model: the source of the worker's whole contract.

A request's ``input`` is one of two actions, told apart by ``action``: ``generate`` (the default when
``action`` is absent) and ``health_check``. From these models ``playbook contract --write`` generates the
JSON Schema, the OpenAPI document, ``test_input.json``, the request table in ``README.md`` and the hub's
tests; ``rp_validator_rules()`` gives the same rules to users of RunPod's ``rp_validator``.

Why pydantic and not RunPod's ``rp_validator`` inside the worker: in runpod 1.12 a rule with a default
skips its constraints (``{"num_inference_steps": 500}`` passes a 1..100 rule when a default is set) and a
wrong type raises ``TypeError`` out of ``validate()`` instead of an error message. Here every bad field gets
one line naming the field, what was sent and what is allowed; nothing is silently corrected.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from imagegen.excerpts import excerpt, listing

ACTIONS = ("generate", "health_check")
MIN_SIDE, MAX_SIDE = 64, 2048
NATIVE = ("image {} in pixels; default: the model's native size, per model (sample_size x VAE scale factor: "
          "512 for SD 1.5, 1024 for SDXL; the health check's default_size)")


class GenerateInput(BaseModel):
    """The ``generate`` action's input (``{"input": {"prompt": ..., ...}}``)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="GenerateInput")

    action: Literal["generate"] = Field("generate", description="what to do; may be left out")
    prompt: str = Field(min_length=1, max_length=2000, description="what to draw")
    negative_prompt: str | None = Field(None, max_length=2000, description="what to avoid")
    width: int | None = Field(None, ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8, description=NATIVE.format("width"))
    height: int | None = Field(None, ge=MIN_SIDE, le=MAX_SIDE, multiple_of=8, description=NATIVE.format("height"))
    num_inference_steps: int = Field(25, ge=1, le=100, description="denoising steps")
    guidance_scale: float = Field(7.5, ge=0.0, le=30.0, description="classifier-free guidance")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="image i uses seed + i; random when absent")
    num_images: int = Field(1, ge=1, le=8, description="images per request")
    output_format: Literal["png", "jpeg", "webp"] = Field("png", description="image encoding")


class HealthCheckInput(BaseModel):
    """The ``health_check`` action: no generation; the worker reports its model, device and counters."""

    model_config = ConfigDict(extra="forbid", strict=True, title="HealthCheckInput")

    action: Literal["health_check"] = Field(description="report the worker's state instead of generating")


def _action_of(value) -> str:
    if isinstance(value, dict):
        return value.get("action", "generate")
    return getattr(value, "action", "generate")


# The request union, discriminated by ``action`` (absent means generate).
Request = Annotated[
    Annotated[GenerateInput, Tag("generate")] | Annotated[HealthCheckInput, Tag("health_check")],
    Discriminator(_action_of),
]
REQUEST = TypeAdapter(Request)
MODELS = {"generate": GenerateInput, "health_check": HealthCheckInput}

# Requests that must always work: the first is worker/test_input.json; all of them are hub tests, are
# checked against the JSON Schema and rp_validator, and run on the local platform in the tests.
# Small sizes and 2 steps so they finish in seconds on a CPU with the demo model.
EXAMPLES: dict[str, dict] = {
    "generate_one_image": {"prompt": "a lighthouse on a cliff at dusk, oil painting", "negative_prompt": "blurry",
                           "width": 64, "height": 64, "num_inference_steps": 2, "guidance_scale": 7.5,
                           "seed": 1},
    "generate_two_jpeg_images": {"action": "generate", "prompt": "a red bicycle in the snow", "width": 64,
                                 "height": 96, "num_inference_steps": 2, "seed": 7, "num_images": 2,
                                 "output_format": "jpeg"},
    "health_check": {"action": "health_check"},
}


class InputError(ValueError):
    """A request the worker refuses; its message is returned to the caller as ``{"error": ...}``."""


@cache
def _properties(model: type[BaseModel]) -> dict:
    return model.model_json_schema()["properties"]


@cache
def allowed(name: str, model: type[BaseModel] = GenerateInput) -> str:
    """What the schema allows for one field, in words (from the JSON schema, so it cannot drift)."""
    props = _properties(model)
    if name not in props:
        return "known fields: " + ", ".join(model.model_fields)
    spec = props[name]
    options = spec.get("anyOf", [spec])
    parts = []
    for opt in options:
        if opt.get("type") == "null":
            continue
        if "enum" in opt or "const" in opt:
            parts.append("one of " + ", ".join(map(str, opt.get("enum", [opt.get("const")]))))
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


def describe(error: ValidationError, model: type[BaseModel] = GenerateInput) -> str:
    """One line per bad field: name, what was sent, why it is refused and what is allowed."""
    lines = []
    for err in error.errors():
        field = ".".join(str(p) for p in err["loc"] if not isinstance(p, int)) or "input"
        field = field.split(".")[0]
        if err["type"] == "missing":
            lines.append(f"'{field}' is required; allowed: {allowed(field, model)}")
        elif err["type"] == "extra_forbidden":
            lines.append(f"'{field}' is not a known field; {allowed(field, model)}")
        else:
            lines.append(f"'{field}' = {excerpt(err['input'])} is invalid ({_short(err['msg'])}); "
                         f"allowed: {allowed(field, model)}")
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


def unknown_fields(fields: dict, model: type[BaseModel] = GenerateInput) -> str | None:
    """The bounded complaint about fields the schema does not know, or None. Checked before pydantic, so
    10,000 unknown keys cost one set difference, not 10,000 error records."""
    unknown = fields.keys() - model.model_fields.keys()
    if not unknown:
        return None
    if len(unknown) == 1:
        return f"{excerpt(next(iter(unknown)), 80)} is not a known field; {allowed('', model)}"
    in_order = (k for k in fields if k in unknown)
    return f"{listing(in_order, 'unknown fields', count=len(unknown))}; {allowed('', model)}"


def parse_action(job_input) -> str:
    """The requested action (default ``generate``); a clear error for anything else."""
    if not isinstance(job_input, dict):
        raise InputError(f"'input' must be a JSON object, not {type(job_input).__name__}; "
                         'e.g. {"input": {"prompt": "a lighthouse at dusk"}}')
    action = job_input.get("action", "generate")
    if action not in ACTIONS:
        raise InputError(f"unknown action {excerpt(action)}; allowed actions: {', '.join(ACTIONS)}")
    return action


def parse(job_input) -> GenerateInput | HealthCheckInput:
    """The request as its action's model, or an ``InputError`` naming every bad field (unknown fields are
    counted before pydantic runs, so the error stays short and cheap whatever the input)."""
    model = MODELS[parse_action(job_input)]
    complaint = unknown_fields({k: v for k, v in job_input.items() if k != "action"}, model)
    if complaint:
        raise InputError("invalid input: " + complaint)
    try:
        return model.model_validate(job_input)
    except ValidationError as exc:
        raise InputError(describe(exc, model)) from None


def parse_generate(job_input: dict) -> GenerateInput:
    """A ``generate`` request (``action`` may be left out), or an ``InputError``."""
    parsed = parse(job_input)
    if not isinstance(parsed, GenerateInput):
        raise InputError("this call takes a generate request, not a health_check")
    return parsed


def rp_validator_rules(action: str = "generate") -> dict:
    """The same rules as ``runpod.serverless.utils.rp_validator`` wants them, for one action.

    Each constraint is the pydantic field itself, so the two cannot disagree. Mind rp_validator 1.12's bug:
    a rule with a default skips its constraints when the value has the default's type, so with these rules
    ``validate()`` still lets ``{"num_inference_steps": 500}`` through; ``parse()`` does not.
    """
    rules = {}
    for name, info in MODELS[action].model_fields.items():
        annotated = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        check = TypeAdapter(annotated, config=ConfigDict(strict=True))
        types = [t for t in getattr(info.annotation, "__args__", (info.annotation,)) if t is not type(None)]
        base = types[0] if isinstance(types[0], type) else type(types[0])  # Literal["png", ...] -> str
        rule = {"type": base, "required": info.is_required(), "constraints": _accepts(check)}
        if not info.is_required():
            rule["default"] = info.default
        rules[name] = rule
    return rules


def _accepts(adapter: TypeAdapter):
    def constraint(value) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    return constraint
