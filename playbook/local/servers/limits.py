"""Size and depth limits on every JSON body the local platform parses (job API, worker API, control API).

Why: a body is user input, and the platform must answer 400 or 413 for any shape of it, never 500. Deep
nesting is the trap: ``json.loads`` of ``[[[[...]]]]`` raises RecursionError, and a body just under the
interpreter's limit parses but breaks whatever walks it next (pydantic, ``json.dumps`` of a result, the
worker's SDK). So a body is refused above ``MAX_DEPTH`` levels, checked cheaply: bodies with fewer
brackets than the limit (nearly all) skip the walk, and the walk visits containers only once.

Limits: the job API's are RunPod's (``/run`` 10 MB, ``/runsync`` 20 MB, in ``playbook.core.settings``); the
control API's bodies are small JSON documents (1 MiB is generous); a worker's result may be as large as a
``/runsync`` payload (RunPod answers 400 to a result near 20 MB: runpod-python#309).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from playbook.core.settings import RUNSYNC_PAYLOAD_LIMIT_BYTES

MAX_DEPTH = 64  # nesting levels of objects and arrays; RunPod documents none, JSON inputs rarely pass 10
CONTROL_LIMIT_BYTES = 1024 * 1024
WORKER_RESULT_LIMIT_BYTES = RUNSYNC_PAYLOAD_LIMIT_BYTES


class BodyError(Exception):
    """A body refused before it reaches the platform: ``status`` 400 or 413, a message saying what to do."""

    def __init__(self, status: int, message: str, field: str = "body"):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def depth_of(value: Any, stop_at: int = MAX_DEPTH + 1) -> int:
    """Nesting depth of objects and arrays (a scalar is 0, ``[]`` is 1), counted up to ``stop_at``."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest >= stop_at:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, level + 1) for c in children if isinstance(c, dict | list))
    return deepest


def _no_constant(name: str):
    """JSON (RFC 8259) has no NaN or Infinity; Python's json module would accept them."""
    raise ValueError(f"{name} is not a JSON number")


def too_large(size: int, limit: int, what: str) -> BodyError:
    return BodyError(413, f"payload of {size / 1e6:.1f} MB exceeds the {limit / (1024 * 1024):g} MB limit of "
                          f"{what} ({limit:,} bytes); put large inputs on a network volume or object storage and "
                          "send a URL instead.")


def parse_json(raw: bytes | str, limit: int, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``, or BodyError: 413 above ``limit`` bytes, 400 for text that is not JSON
    and for nesting deeper than ``max_depth``."""
    if len(raw) > limit:
        raise too_large(len(raw), limit, what)
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        value = None
        deep = True
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError(400, f"{what}: the body is not valid JSON ({str(exc)[:120]}).") from None
    else:
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "replace")
        deep = (data.count(b"[") + data.count(b"{") > max_depth
                and depth_of(value, max_depth + 1) > max_depth)
    if deep:
        raise BodyError(400, f"{what}: the JSON nests deeper than {max_depth} levels of objects and arrays; "
                             "send a flatter document.")
    return value


async def read_json(request: web.Request, limit: int, what: str, max_depth: int = MAX_DEPTH) -> Any:
    """Read and parse a request body within ``limit`` bytes (the declared length is checked before reading)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(declared, limit, what)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(declared or limit + 1, limit, what) from None
    return parse_json(raw or b"null", limit, what, max_depth)
