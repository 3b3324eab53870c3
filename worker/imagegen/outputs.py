"""Turn images into a job result: base64 in the response, or URLs from a bucket upload.

Why the size check: RunPod refuses results above 10 MB for /run and 20 MB for /runsync, and a result
near the limit fails to post while the client sees COMPLETED with no output (runpod-python#309). So the
worker measures the real encoded result and refuses it with an error that says how to fix it, instead
of letting it vanish. WORKER_MAX_OUTPUT_BYTES overrides the limit (default: /run's 10 MB).

With BUCKET_ENDPOINT_URL set, images go to the bucket through RunPod's ``rp_upload`` and the result
carries presigned URLs; the bucket's keys must be set too, or rp_upload would silently keep the files
on the worker's disk.
"""

from __future__ import annotations

import base64
import io
import os

RUN_LIMIT_BYTES = 10_000_000  # POST /run
RUNSYNC_LIMIT_BYTES = 20_000_000  # POST /runsync
BUCKET_VARS = ("BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY")
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


class OutputError(ValueError):
    """A result that cannot be returned; the message says what to configure."""


def limit_bytes() -> int:
    return int(os.environ.get("WORKER_MAX_OUTPUT_BYTES", RUN_LIMIT_BYTES))


def encode(image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=PIL_FORMATS[fmt])
    return buf.getvalue()


def bucket_configured() -> bool:
    return bool(os.environ.get("BUCKET_ENDPOINT_URL"))


def as_base64(encoded: list[bytes], seeds: list[int]) -> list[dict]:
    """Inline images, refused when the result would pass RunPod's payload cap."""
    images = [{"image": base64.b64encode(data).decode("ascii"), "seed": s}
              for data, s in zip(encoded, seeds, strict=False)]
    total = sum(len(i["image"]) for i in images)
    limit = limit_bytes()
    if total > limit:
        raise OutputError(
            f"output too large: {len(images)} image(s) are {total / 1e6:.2f} MB as base64, above the "
            f"{limit / 1e6:.2f} MB a job result may carry (RunPod: 10 MB for /run, 20 MB for /runsync). "
            "Configure a bucket so the worker returns URLs instead: set BUCKET_ENDPOINT_URL, "
            "BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY (and optionally BUCKET_NAME) on the endpoint; "
            "or ask for fewer or smaller images, or output_format jpeg or webp."
        )
    return images


def upload(encoded: list[bytes], seeds: list[int], fmt: str, job_id: str) -> list[dict]:
    """Upload each image with rp_upload and return presigned URLs."""
    missing = [v for v in BUCKET_VARS if not os.environ.get(v)]
    if missing:
        raise OutputError(f"BUCKET_ENDPOINT_URL is set but {', '.join(missing)} is not: set all of "
                          f"{', '.join(BUCKET_VARS)} to upload images, or unset BUCKET_ENDPOINT_URL.")
    from runpod.serverless.utils import rp_upload

    bucket = os.environ.get("BUCKET_NAME") or None
    urls = []
    for i, (data, seed) in enumerate(zip(encoded, seeds, strict=False)):
        url = rp_upload.upload_in_memory_object(f"{i}-{seed}.{fmt}", data, bucket_name=bucket, prefix=job_id)
        urls.append({"url": url, "seed": seed})
    return urls


def images_result(pairs, fmt: str, job_id: str) -> list[dict]:
    """``[{"image": <base64>, "seed": n}, ...]`` or ``[{"url": ..., "seed": n}, ...]``."""
    encoded = [encode(image, fmt) for image, _ in pairs]
    seeds = [seed for _, seed in pairs]
    if bucket_configured():
        return upload(encoded, seeds, fmt, job_id)
    return as_base64(encoded, seeds)
