"""Contract checking against RunPod's REST v2 OpenAPI spec (``docs/runpod/rest-v2-beta.openapi.json``, a copy of
RunPod's published spec: docs/runpod/README.md says where it comes from and how to refresh it).

Why: the local platform is only honest if it answers exactly as RunPod documents, and the client is only
right if RunPod would accept what it sends. ``ContractRecorder`` hooks a ``ControlClient``'s requests
session so that *every* request it sends and *every* response it receives is validated with openapi-core
(a real OpenAPI 3.1 validator); violations are collected and raised by ``check()``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from playbook.core.config import REPO_ROOT

SPEC_DIR = REPO_ROOT / "docs" / "runpod"
SPEC_NAME = "rest-v2-beta.openapi.json"


def spec_path() -> Path:
    """The copy in the repository (docs/runpod/)."""
    path = SPEC_DIR / SPEC_NAME
    if not path.is_file():
        raise FileNotFoundError(f"RunPod's REST v2 spec is missing at {path}: it is part of the repository "
                                "(git checkout docs/runpod; docs/runpod/README.md says how to refresh it).")
    return path


@functools.lru_cache(maxsize=1)
def openapi():
    """The spec, with the loopback server added beside api.runpod.io so local URLs match its paths."""
    from openapi_core import Config, OpenAPI

    data = json.loads(spec_path().read_text())
    data["servers"] = [{"url": "http://127.0.0.1:{port}", "variables": {"port": {"default": "80"}}},
                       *data.get("servers", [])]
    # RFC 9457 problem objects are JSON; openapi-core only decodes application/json by itself
    # and server-sent events (worker logs) are text, which it leaves as bytes
    config = Config(extra_media_type_deserializers={
        "application/problem+json": lambda value, **params: json.loads(value),
        "text/event-stream": lambda value, **params: value.decode() if isinstance(value, bytes) else value})
    return OpenAPI.from_dict(data, config=config)


def validate_exchange(response) -> list[str]:
    """Violations of the spec by one requests exchange (its request and its response)."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    api = openapi()
    request = RequestsOpenAPIRequest(response.request)
    what = f"{response.request.method} {response.request.path_url} -> {response.status_code}"
    problems = []
    for side, errors in (("request", api.iter_request_errors(request)),
                         ("response", api.iter_response_errors(request, RequestsOpenAPIResponse(response)))):
        for error in errors:
            cause = getattr(error, "__cause__", None)
            detail = "; ".join(str(e.message) for e in getattr(cause, "schema_errors", ())) or str(cause or "")
            problems.append(f"{what}: {side}: {type(error).__name__}: {detail or str(error)[:300]}")
    return problems


class ContractRecorder:
    """Validates every exchange of a ``ControlClient`` against the spec."""

    def __init__(self, client):
        self.exchanges: list[str] = []
        self.violations: list[str] = []
        client.session.hooks["response"].append(self._hook)

    def _hook(self, response, *args, **kwargs):
        self.exchanges.append(f"{response.request.method} {response.request.path_url} {response.status_code}")
        self.violations += validate_exchange(response)
        return response

    def check(self) -> None:
        assert not self.violations, "REST v2 contract violations:\n" + "\n".join(self.violations)
