"""What a job returns, as typed models: the output half of the worker's contract.

The worker builds its results as plain dicts (they go straight into JSON); these models describe them so
the JSON Schema and OpenAPI document can be generated, clients know what to decode, and ``playbook hub
test`` can check a real result against the contract instead of trusting an HTTP 200. A refused request
has no output: the job is FAILED and its ``error`` is a one-line string.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class InlineImage(BaseModel):
    model_config = ConfigDict(extra="forbid", title="InlineImage")

    image: str = Field(description="the encoded image (output_format), base64",
                       json_schema_extra={"contentEncoding": "base64"})
    seed: int = Field(ge=0, description="the seed this image was made with")


class UrlImage(BaseModel):
    model_config = ConfigDict(extra="forbid", title="UrlImage")

    url: str = Field(description="a presigned URL of the image in the bucket (BUCKET_ENDPOINT_URL set)")
    seed: int = Field(ge=0, description="the seed this image was made with")


class GenerateOutput(BaseModel):
    """The ``generate`` action's output."""

    model_config = ConfigDict(extra="forbid", title="GenerateOutput")

    images: list[InlineImage | UrlImage] = Field(min_length=1, max_length=8)
    width: int = Field(description="pixels (the model's native size when the request gave none)")
    height: int = Field(description="pixels (the model's native size when the request gave none)")
    num_inference_steps: int
    output_format: Literal["png", "jpeg", "webp"]
    device: str = Field(description="cuda or cpu")
    dtype: str = Field(description="fp16, bf16 or fp32")
    inference_s: float = Field(ge=0, description="seconds spent generating (not loading)")


class HealthOutput(BaseModel):
    """The ``health_check`` action's output; GPU memory fields appear only on a GPU."""

    model_config = ConfigDict(extra="forbid", title="HealthOutput")

    status: Literal["ok", "model_not_ready"]
    model_loaded: bool
    model_path: str
    jobs_ok: int = Field(ge=0)
    jobs_failed: int = Field(ge=0)
    versions: dict[str, str | None] = Field(description="package versions in the worker, and CUDA's")
    vram_free_gb: float | None = None
    vram_total_gb: float | None = None
    gpu: str | None = None
    pipeline: str | None = Field(None, description="the diffusers pipeline class (model loaded)")
    device: str | None = None
    dtype: str | None = None
    variant: str | None = Field(None, description="the weight files' variant loaded (MODEL_VARIANT or "
                                "auto-detected); null: the plain files")
    default_size: str | None = Field(None, description="WIDTHxHEIGHT a request without a size gets: the "
                                     "model's native size (sample_size x vae_scale_factor)")
    attention: list[str] | None = Field(None, description="attention processor classes in use")
    speed: list[str] | None = Field(None, description="the speed options in effect (WORKER_COMPILE, ...)")
    load_s: float | None = Field(None, ge=0, description="seconds the pipeline took to load")
    warmup_s: float | None = Field(None, ge=0, description="seconds the warm-up generation at boot took")
    problem: str | None = Field(None, description="why the model is not usable (model not loaded)")


OUTPUTS = {"generate": GenerateOutput, "health_check": HealthOutput}
OUTPUT = TypeAdapter(GenerateOutput | HealthOutput)
