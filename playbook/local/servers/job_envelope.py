"""The job envelope: what a ``/run`` or ``/runsync`` body may hold around ``input``, checked whole before
anything reaches the queue.

RunPod's documentation (docs.runpod.io, "Send API requests", section "Advanced options"; runpod/docs
``serverless/endpoints/send-requests.mdx``) lists the top-level fields and their limits:

* ``input`` (required): "your request must include a JSON object with the key ``input``";
* ``webhook``: a URL RunPod POSTs the ``/status`` body to when the job completes;
* ``policy``: ``executionTimeout`` "Maximum job runtime in milliseconds", default 600000, "Must be > 5000
  ms"; ``lowPriority`` "When true, job won't trigger worker scaling", default false; ``ttl`` "Maximum job
  lifetime in milliseconds", default 86400000 (24 hours), "Must be ≥ 10000 ms, max 1 week";
* ``s3Config``: ``accessId``, ``accessSecret``, ``bucketName``, ``endpointUrl``, "passed directly to your
  worker but not included in responses".

Anything else is refused with 400 naming the field, rather than silently ignored (a misspelt ``polcy``
would otherwise run with the defaults). Errors quote at most a short excerpt of what was sent
(``playbook.core.excerpts``) and never the s3Config values, which are credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playbook.core.excerpts import excerpt, listing

EXECUTION_TIMEOUT_MIN_MS = 5_000  # exclusive: "Must be > 5000 ms"
EXECUTION_TIMEOUT_MAX_MS = 7 * 24 * 3600 * 1000  # not documented; no job outlives its ttl's maximum anyway
TTL_MIN_MS = 10_000  # "Must be ≥ 10000 ms"
TTL_MAX_MS = 7 * 24 * 3600 * 1000  # "max 1 week"
TTL_DEFAULT_MS = 24 * 3600 * 1000  # "86400000 (24 hours)"
WEBHOOK_MAX_CHARS = 2048
FIELDS = ("input", "webhook", "policy", "s3Config")
POLICY_FIELDS = ("executionTimeout", "lowPriority", "ttl")
S3_FIELDS = ("accessId", "accessSecret", "bucketName", "endpointUrl")


class EnvelopeError(ValueError):
    """A job body refused with 400; ``field`` is its dotted path (``policy.executionTimeout``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Envelope:
    """A checked job body. Times in milliseconds, as RunPod's policy states them."""

    input: Any
    webhook: str | None = None
    execution_timeout_ms: int | None = None
    ttl_ms: int | None = None
    low_priority: bool = False
    s3_config: dict | None = None


def _unknown(obj: dict, known: tuple, where: str) -> None:
    extra = [k for k in obj if k not in known]
    if extra:
        field = f"{where}.{extra[0]}" if where else str(extra[0])
        names = listing(extra, "unknown field" if len(extra) == 1 else "unknown fields")
        raise EnvelopeError(excerpt(field, 80).strip("'"), f"{names}; allowed here: {', '.join(known)}.")


def _integer_ms(policy: dict, name: str, low: int, high: int, low_inclusive: bool) -> int | None:
    if name not in policy or policy[name] is None:
        return None
    value = policy[name]
    field = f"policy.{name}"
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise EnvelopeError(field, f"must be a number of milliseconds, not {excerpt(value)}.")
    if isinstance(value, float) and not value.is_integer():
        raise EnvelopeError(field, f"must be a whole number of milliseconds, not {excerpt(value)}.")
    value = int(value)
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        bound = f"at least {low:,}" if low_inclusive else f"more than {low:,}"
        raise EnvelopeError(field, f"{excerpt(value)} ms is out of range; RunPod requires {bound} ms and at most "
                                   f"{high:,} ms ({high // 86_400_000} days).")
    return value


def _policy(policy: Any) -> tuple[int | None, int | None, bool]:
    if policy is None:
        return None, None, False
    if not isinstance(policy, dict):
        raise EnvelopeError("policy", f"must be an object such as {{\"executionTimeout\": 600000}}, not "
                                      f"{excerpt(policy)}.")
    _unknown(policy, POLICY_FIELDS, "policy")
    timeout = _integer_ms(policy, "executionTimeout", EXECUTION_TIMEOUT_MIN_MS, EXECUTION_TIMEOUT_MAX_MS, False)
    ttl = _integer_ms(policy, "ttl", TTL_MIN_MS, TTL_MAX_MS, True)
    low = policy.get("lowPriority", False)
    if low is None:
        low = False
    if not isinstance(low, bool):
        raise EnvelopeError("policy.lowPriority", f"must be true or false, not {excerpt(low)}.")
    return timeout, ttl, low


def _webhook(url: Any) -> str | None:
    if url is None:
        return None
    if not isinstance(url, str):
        raise EnvelopeError("webhook", f"must be a URL string, not {excerpt(url)}.")
    if len(url) > WEBHOOK_MAX_CHARS:
        raise EnvelopeError("webhook", f"is {len(url):,} characters long; a webhook URL may have at most "
                                       f"{WEBHOOK_MAX_CHARS:,}.")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise EnvelopeError("webhook", f"{excerpt(url)} is not an http(s) URL; send e.g. "
                                       "\"https://example.com/runpod-hook\".")
    return url


def _s3_config(config: Any) -> dict | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        raise EnvelopeError("s3Config", f"must be an object with {', '.join(S3_FIELDS)}.")
    _unknown(config, S3_FIELDS, "s3Config")
    for name in S3_FIELDS:  # values are credentials: never quoted
        if not isinstance(config.get(name), str) or not config[name]:
            raise EnvelopeError(f"s3Config.{name}", "is required and must be a non-empty string.")
    return dict(config)


def check(body: Any) -> Envelope:
    """The checked envelope of a job body, or EnvelopeError naming the first bad field."""
    if not isinstance(body, dict):
        raise EnvelopeError("body", 'must be a JSON object with an "input" field: {"input": {...}}.')
    if "input" not in body:
        raise EnvelopeError("input", 'is required: send {"input": {...}}.')
    _unknown(body, FIELDS, "")
    timeout, ttl, low = _policy(body.get("policy"))
    return Envelope(input=body["input"], webhook=_webhook(body.get("webhook")), execution_timeout_ms=timeout,
                    ttl_ms=ttl, low_priority=low, s3_config=_s3_config(body.get("s3Config")))
