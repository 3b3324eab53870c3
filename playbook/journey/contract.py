"""The worker's API contract, generated from its typed models (``worker/imagegen/schema.py`` and
``results.py``) and checked in, so that a copy cannot drift from the code that enforces it.

Why generated files rather than prose: clients, the RunPod Hub and reviewers read the request format
without reading Python; each copy here is rewritten by ``playbook contract --write`` and a test fails when
``playbook contract`` (check mode) finds one that differs. The copies:

- ``worker/contract/request.schema.json`` and ``result.schema.json``: JSON Schema (2020-12) of ``input``
  (a union of ``generate`` and ``health_check``, told apart by ``action``) and of ``output``;
- ``worker/contract/openapi.json``: OpenAPI 3.1 of the endpoint: RunPod's job API paths (``/run``,
  ``/runsync``, ``/status``, ...) carrying this input and output;
- ``worker/test_input.json``: the first example, what ``python handler.py`` runs locally;
- the request table in ``worker/README.md``, between the ``contract:`` markers.
"""

from __future__ import annotations

import json
from pathlib import Path

from playbook.core.config import REPO_ROOT, RUNPOD_JOB_API_URL, worker_on_path
from playbook.core.errors import ConfigError
from playbook.core.settings import JOB_STATES

WORKER = REPO_ROOT / "worker"
CONTRACT_DIR = WORKER / "contract"
README = WORKER / "README.md"
TABLE_START, TABLE_END = "<!-- contract:request-table:start -->", "<!-- contract:request-table:end -->"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def worker_models():
    """The worker's ``schema`` and ``results`` modules (the worker never imports ``playbook``)."""
    worker_on_path()
    from imagegen import results, schema

    return schema, results


def request_schema() -> dict:
    schema, _ = worker_models()
    return {"$schema": SCHEMA_DIALECT, "title": "Request", **schema.REQUEST.json_schema()}


def result_schema() -> dict:
    _, results = worker_models()
    return {"$schema": SCHEMA_DIALECT, "title": "Output", **results.OUTPUT.json_schema()}


def test_input() -> dict:
    schema, _ = worker_models()
    return {"input": next(iter(schema.EXAMPLES.values()))}


def examples() -> dict[str, dict]:
    """Every example request by name, as a job body ``{"input": {...}}``."""
    schema, _ = worker_models()
    return {name: {"input": dict(body)} for name, body in schema.EXAMPLES.items()}


def _components(adapter, name: str) -> dict:
    """One schema plus its definitions, with references pointing into OpenAPI's components."""
    doc = adapter.json_schema(ref_template="#/components/schemas/{model}")
    defs = doc.pop("$defs", {})
    return {**defs, name: doc}


def openapi() -> dict:
    """OpenAPI 3.1 of one endpoint of this worker on RunPod's job API (api.runpod.ai/v2/{endpoint_id})."""
    schema, results = worker_models()
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    status = {"200": {"description": "the job's state, with output or error once it is done",
                      "content": {"application/json": {"schema": ref("JobStatus")}}}}
    run_body = {"required": True, "content": {"application/json": {
        "schema": ref("JobRequest"),
        "examples": {name: {"value": body} for name, body in examples().items()}}}}
    components = {
        **_components(schema.REQUEST, "Request"),
        **_components(results.OUTPUT, "Output"),
        "JobRequest": {"type": "object", "required": ["input"], "properties": {
            "input": ref("Request"),
            "webhook": {"type": "string", "format": "uri", "description": "POSTed the result when done"},
            "policy": {"type": "object", "properties": {
                "executionTimeout": {"type": "integer", "description": "milliseconds"},
                "ttl": {"type": "integer", "description": "milliseconds the job may live"},
                "lowPriority": {"type": "boolean"}}},
            "s3Config": {"type": "object", "description": "bucket credentials passed to the worker"}}},
        "JobQueued": {"type": "object", "required": ["id", "status"], "properties": {
            "id": {"type": "string"}, "status": {"type": "string", "enum": list(JOB_STATES)}}},
        "JobStatus": {"type": "object", "required": ["id", "status"], "properties": {
            "id": {"type": "string"}, "status": {"type": "string", "enum": list(JOB_STATES)},
            "delayTime": {"type": "integer", "description": "milliseconds in the queue"},
            "executionTime": {"type": "integer", "description": "milliseconds running"},
            "output": ref("Output"),
            "error": {"type": "string", "description": "why the job FAILED, one line for a refused request"}}},
        "Health": {"type": "object", "properties": {
            "jobs": {"type": "object", "additionalProperties": {"type": "integer"}},
            "workers": {"type": "object", "additionalProperties": {"type": "integer"}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "runpod-playbook image worker", "version": "1.0.0",
                 "description": "Text-to-image with any diffusers pipeline folder, on RunPod Serverless. "
                                "Generated by `playbook contract --write` from worker/imagegen; do not edit."},
        "servers": [{"url": RUNPOD_JOB_API_URL + "/{endpoint_id}",
                     "variables": {"endpoint_id": {"default": "your-endpoint-id"}}}],
        "security": [{"apiKey": []}],
        "paths": {
            "/run": {"post": {"operationId": "run", "summary": "queue a job (payload up to 10 MB)",
                              "requestBody": run_body, "responses": {"200": {
                                  "description": "queued", "content": {"application/json": {
                                      "schema": ref("JobQueued")}}}}}},
            "/runsync": {"post": {"operationId": "runsync",
                                  "summary": "run a job and wait (payload up to 20 MB); a job still running "
                                             "after `wait` comes back IN_QUEUE or IN_PROGRESS: poll /status",
                                  "parameters": [{"name": "wait", "in": "query", "schema": {
                                      "type": "integer", "minimum": 1000, "maximum": 300000}}],
                                  "requestBody": run_body, "responses": status}},
            "/status/{job_id}": {"get": {"operationId": "status", "parameters": job_id, "responses": status}},
            "/cancel/{job_id}": {"post": {"operationId": "cancel", "parameters": job_id, "responses": {"200": {
                "description": "cancelled", "content": {"application/json": {"schema": ref("JobQueued")}}}}}},
            "/health": {"get": {"operationId": "health", "responses": {"200": {
                "description": "job and worker counts",
                "content": {"application/json": {"schema": ref("Health")}}}}}},
        },
        "components": {"schemas": components,
                       "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "authorization",
                                                      "description": "your RunPod API key"}}},
    }


def request_table() -> str:
    """The request table of worker/README.md: one row per field of each action."""
    schema, _ = worker_models()
    rows = ["| action | field | type | default | allowed | what it is |", "|---|---|---|---|---|---|"]
    for action, model in schema.MODELS.items():
        props = model.model_json_schema()["properties"]
        for name, info in model.model_fields.items():
            spec = props[name]
            kind = next((o["type"] for o in spec.get("anyOf", [spec]) if o.get("type") != "null"), "")
            default = "required" if info.is_required() else f"`{json.dumps(info.default)}`"
            rows.append(f"| {action} | `{name}` | {kind} | {default} | {schema.allowed(name, model)} | "
                        f"{info.description or ''} |")
    return "\n".join(rows)


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _readme(current: str) -> str:
    if TABLE_START not in current or TABLE_END not in current:
        raise ConfigError(f"{README} lacks the markers {TABLE_START} and {TABLE_END}: put them back around "
                          "the request table, then run `playbook contract --write`.")
    head, rest = current.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{request_table()}\n{TABLE_END}{tail}"


# standard-library modules the worker needs too: generated into worker/imagegen (the image never imports playbook)
SHARED_MODULES = ("excerpts", "safetensors_header")


def worker_copy(name: str) -> str:
    """The worker's copy of ``playbook/core/<name>.py``: a line saying where it comes from, then the module."""
    source = REPO_ROOT / "playbook" / "core" / f"{name}.py"
    return (f"# Generated from playbook/core/{name}.py by `playbook contract --write`: edit that file, not this one.\n"
            + source.read_text())


def documents() -> dict[Path, str]:
    """Every generated copy, path to the text it must hold."""
    return {
        **{WORKER / "imagegen" / f"{name}.py": worker_copy(name) for name in SHARED_MODULES},
        CONTRACT_DIR / "request.schema.json": _json(request_schema()),
        CONTRACT_DIR / "result.schema.json": _json(result_schema()),
        CONTRACT_DIR / "openapi.json": _json(openapi()),
        WORKER / "test_input.json": _json(test_input()),
        README: _readme(README.read_text()),
    }


def drifted() -> list[Path]:
    """The copies whose text differs from what the models generate now (missing ones included)."""
    return [path for path, text in documents().items() if not path.exists() or path.read_text() != text]


def write() -> list[Path]:
    """Rewrite the copies that drifted; returns them."""
    changed = drifted()
    docs = documents()
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(docs[path])
    return changed
