"""The one typed REST v2 endpoint model (playbook/api/endpoint_model.py) against RunPod's spec, and its three users:
the control client (checks before it sends), deploy (sets every default that RunPod's docs get wrong and says
so in the plan) and the local control API (parses with it and applies v2's defaults)."""

from __future__ import annotations

import json
import socket

import pytest
from openapi_contract import spec_path

from playbook import deploy
from playbook.api import endpoint_model
from playbook.api.control import ControlClient
from playbook.core.config import REPO_ROOT, Target
from playbook.core.errors import ConfigError, Unreachable
from playbook.core.secrets import Secret
from playbook.deploy.changes import reveal
from playbook.deploy.spec import load_spec

GPU = {"pools": ["ADA_24"]}
QUEUE_DELAY = {"type": "QUEUE_DELAY", "queueDelay": 4}


def schemas() -> dict:
    return json.loads(spec_path().read_text())["components"]["schemas"]


def properties(schema: dict, all_schemas: dict) -> dict:
    """Every property of a schema, following $ref and allOf."""
    if "$ref" in schema:
        return properties(all_schemas[schema["$ref"].rsplit("/", 1)[1]], all_schemas)
    found = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found.update({k: v for k, v in properties(part, all_schemas).items() if k not in found})
    return found


@pytest.mark.parametrize("model, name", [(endpoint_model.EndpointCreate, "CreateEndpointRequest"),
                                         (endpoint_model.EndpointUpdate, "UpdateEndpointRequest")])
def test_the_model_has_exactly_the_specs_fields(model, name):
    all_schemas = schemas()
    spec_fields = properties(all_schemas[name], all_schemas)
    assert set(model.model_fields) == set(spec_fields)
    assert model.spec_name == name
    assert set(endpoint_model.Workers.model_fields) == set(properties(all_schemas["EndpointWorkers"], all_schemas))
    gpu = "CreateEndpointGpuConfig" if name.startswith("Create") else "UpdateEndpointGpuConfig"
    assert set(endpoint_model.Gpu.model_fields) == set(properties(all_schemas[gpu], all_schemas))


def test_the_v2_defaults_are_the_specs():
    create = properties(schemas()["CreateEndpointRequest"], schemas())
    spec_defaults = {"flashboot": create["flashboot"]["default"], "timeout": create["timeout"]["default"],
                     **{f"workers.{k}": v["default"] for k, v in create["workers"]["properties"].items()}}
    assert spec_defaults == endpoint_model.V2_DEFAULT
    # the three RunPod documents differently (docs/runpod-facts.md §3.3)
    assert {d.field for d in endpoint_model.V2_DEFAULTS if d.docs is not None} == {
        "workers.idleTimeout", "flashboot", "timeout"}


def test_the_local_control_api_applies_v2s_defaults_not_the_docs(client):
    ep = client.create_endpoint({"name": "defaults", "type": "QUEUE", "image": "me/worker:1", "gpu": GPU,
                                 "scaling": QUEUE_DELAY})
    try:
        assert ep["workers"] == {"min": 0, "max": 3, "idleTimeout": 10}
        assert ep["flashboot"] == "OFF" and ep["timeout"] == 300_000
    finally:
        client.delete_endpoint(ep["id"])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_client_names_a_bad_field_before_any_round_trip():
    url = f"http://127.0.0.1:{closed_port()}/v2"
    nowhere = ControlClient(Target("local", url, url, Secret("key")), retries=0)
    bad = {"name": "x", "type": "QUEUE", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 0.1},
           "workers": {"idleTimeout": "5"}, "env": {"HF_TOKEN": 12345678}, "bogus": 1}
    with pytest.raises(ConfigError) as info:
        nowhere.create_endpoint(bad)
    message = str(info.value)
    for line in ("scaling.QUEUE_DELAY.queueDelay:", "workers.idleTimeout:", "env.HF_TOKEN:",
                 "bogus: unknown field", "CreateEndpointRequest"):
        assert line in message
    assert "12345678" not in message  # values are never echoed: they may be secrets
    with pytest.raises(ConfigError, match="UpdateEndpointRequest"):
        nowhere.update_endpoint("abc", {"workers": {"idleTimeout": 0}})
    # a body the model takes goes out (and meets the closed port)
    with pytest.raises(Unreachable, match=r"PATCH /serverless/abc: cannot reach"):
        nowhere.update_endpoint("abc", {"workers": {"idleTimeout": 5}})


def test_plan_sends_every_default_the_docs_get_wrong_and_says_so(client):
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml").with_changes(volume=None, name="playbook-defaults")
    change = deploy.plan(spec, client).change("endpoint")
    body = change.body
    assert body["workers"]["idleTimeout"] == spec.workers.idle_timeout_s
    assert body["flashboot"] == spec.flashboot and body["timeout"] == spec.execution_timeout_s * 1000
    [note] = [n for n in change.notes if "v2 defaults" in n]
    assert f"workers.idleTimeout={spec.workers.idle_timeout_s}" in note and "v2 default 10, docs 5" in note
    assert "flashboot='OFF'" in note and "timeout=300000" in note
    assert {f.field for f in change.fields} >= {"workers", "flashboot", "timeout", "disk"}
    # REQUEST_COUNT: v2 refuses idleTimeout, so the plan says it is left to RunPod
    counted = deploy.plan(spec.with_changes(scaler={"type": "REQUEST_COUNT", "value": 2}), client)
    assert "idleTimeout" not in counted.change("endpoint").body["workers"]
    assert "workers.idleTimeout not sent: v2 refuses it with REQUEST_COUNT" in " ".join(
        counted.change("endpoint").notes)
    # what plan shows is what apply creates
    result = deploy.apply(spec, client)
    try:
        made = client.get_endpoint(result.endpoint_id)
        assert made["workers"]["idleTimeout"] == spec.workers.idle_timeout_s and made["timeout"] == body["timeout"]
    finally:
        deploy.destroy(spec, client)


def test_a_secret_in_the_body_is_checked_without_being_revealed():
    body = {"name": "s", "type": "QUEUE", "scaling": QUEUE_DELAY, "env": {"TOKEN": Secret("hunter2-secret")},
            "workers": {"max": -1}}
    with pytest.raises(ConfigError) as info:
        endpoint_model.check(reveal(body), endpoint_model.EndpointCreate)
    assert "workers.max:" in str(info.value) and "hunter2" not in str(info.value)
