"""Contract tests: every request ``playbook.api.control`` sends and every response the local platform returns
is validated against RunPod's REST v2 spec (docs/runpod/rest-v2-beta.openapi.json) with openapi-core,
across the whole deploy lifecycle: create, update in place, idempotent re-apply, new release, destroy,
and the refusals (volume data center mismatch, no stock, bad fields, 401)."""

from __future__ import annotations

import json

import pytest
import requests
from openapi_contract import ContractRecorder, spec_path, validate_exchange

from playbook import deploy
from playbook.api.control import ControlClient, ControlError
from playbook.core.config import REPO_ROOT, Target
from playbook.core.secrets import Secret
from playbook.deploy.spec import load_spec

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end


@pytest.fixture(scope="module")
def spec():
    return load_spec(REPO_ROOT / "deploy" / "demo.toml").with_changes(name="contract-demo")


def test_the_spec_is_the_repositorys_copy_of_runpods_rest_v2():
    path = spec_path()
    assert path.relative_to(REPO_ROOT).as_posix() == "docs/runpod/rest-v2-beta.openapi.json"
    doc = json.loads(path.read_text())
    assert doc["info"]["version"] == "2.0.0" and doc["servers"][0]["url"] == "https://api.runpod.io"


def test_create_reapply_update_release_destroy(client, spec):
    created = deploy.apply(spec, client)
    assert [c.action for c in created.plan.changes] == ["create", "create"]
    endpoint = client.get_endpoint(created.endpoint_id)
    assert endpoint["networkVolumes"] == [created.volume_id] and endpoint["dataCenterIds"] == ["EU-RO-1"]
    assert endpoint["gpu"]["pools"] == ["AMPERE_16", "AMPERE_24"] and endpoint["workers"]["idleTimeout"] == 5

    again = deploy.apply(spec, client)  # idempotent: nothing is sent but reads
    assert not again.plan.changed and again.endpoint_id == created.endpoint_id
    assert [c.action for c in again.plan.changes] == ["unchanged", "unchanged"]

    spec = spec.with_changes(workers={"min": 0, "max": 5, "idle_timeout_s": 5})
    scaled = deploy.apply(spec, client)
    ep_change = scaled.plan.change("endpoint")
    assert ep_change.action == "update" and ep_change.body == {"workers": {"min": 0, "max": 5, "idleTimeout": 5}}
    assert [str(f) for f in ep_change.fields] == ["workers.max: 3 -> 5"]
    assert client.endpoint_releases(created.endpoint_id)["endpointVersion"] == 1  # scaling is no release

    spec = spec.with_changes(image="local/playbook-worker:2")
    new_image = deploy.apply(spec, client)
    change = new_image.plan.change("endpoint")
    assert change.body == {"image": "local/playbook-worker:2"} and "new release" in change.notes[0]
    releases = client.endpoint_releases(created.endpoint_id)
    assert releases["endpointVersion"] == 2
    assert releases["releases"][0]["diff"] == [{"field": "image", "old": "local/playbook-worker:latest",
                                                "new": "local/playbook-worker:2"}]
    assert client.endpoint_workers(created.endpoint_id)["endpointVersion"] == 2

    grown = deploy.apply(spec.with_changes(volume={**spec.volume.model_dump(), "size_gb": 20}), client)
    assert grown.plan.change("network volume").body == {"size": 20}
    assert client.get_network_volume(created.volume_id)["size"] == 20

    gone = deploy.destroy(spec, client)
    assert [c.action for c in gone.changes] == ["delete", "unchanged"]  # the volume keeps the weights
    assert [e for e in client.list_endpoints() if e["name"] == spec.name] == []
    assert deploy.destroy(spec, client, volume=True).counts() == {"absent": 1, "delete": 1}
    assert not deploy.destroy(spec, client, volume=True).changed


def test_refusals_happen_before_any_write(platform, spec):
    client = ControlClient(platform.target, retries=0)
    recorder = ContractRecorder(client)
    # volume already exists in another data center: volumes cannot move
    other = client.create_network_volume({"name": "elsewhere", "size": 10, "dataCenter": "US-KS-2"})
    moved = spec.with_changes(volume={"name": "elsewhere", "size_gb": 10, "data_center": "EU-RO-1"})
    writes_before = [x for x in recorder.exchanges if not x.startswith("GET")]
    with pytest.raises(deploy.PlacementError, match="already exists in US-KS-2"):
        deploy.apply(moved, client)
    # the pools have no stock in the volume's data center (the local stock table has no H200 in EU-RO-1)
    with pytest.raises(deploy.PlacementError, match=r"none of the pools \['HOPPER_141'\] has stock in EU-RO-1"):
        deploy.apply(spec.with_changes(gpus=["H200"]), client)
    assert [x for x in recorder.exchanges if not x.startswith("GET")] == writes_before
    # some pools without stock: allowed, with a note
    note = deploy.plan(spec.with_changes(gpus=["HOPPER_141", "AMPERE_16"]), client).notes
    assert "['HOPPER_141'] have no stock in EU-RO-1" in note[0]
    client.delete_network_volume(other["id"])
    recorder.check()


def test_problem_objects_for_rejected_requests(platform):
    """Requests RunPod would reject: the platform answers with spec-valid problem objects naming the field."""
    session = requests.Session()
    headers = {"Authorization": f"Bearer {platform.target.api_key.reveal()}"}
    base = platform.target.control_api_url

    def send(method, path, **kw):
        resp = session.request(method, base + path, headers=kw.pop("headers", headers), **kw)
        violations = [v for v in validate_exchange(resp) if ": response:" in v]
        assert not violations, violations
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        return resp.status_code, resp.json()

    status, body = send("POST", "/serverless", json={"name": "x", "type": "QUEUE", "image": "i",
                                                     "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4},
                                                     "gpu": {"pools": ["ADA_24"]}, "workers": {"idleTimeout": 0}})
    assert status == 422 and any(e.startswith("workers.idleTimeout:") for e in body["errors"])
    status, body = send("POST", "/serverless", json={"name": "x", "type": "QUEUE", "image": "i", "bogus": 1,
                                                     "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4},
                                                     "gpu": {"pools": ["ADA_24"]}})
    assert status == 422 and "bogus: unknown field (not in the schema)" in body["errors"]
    status, body = send("POST", "/serverless", json={"name": "x", "type": "QUEUE", "image": "i",
                                                     "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4},
                                                     "gpu": {"pools": ["RTX_4090"]}})
    assert status == 400 and "RTX_4090" in body["detail"]
    status, body = send("POST", "/network-volumes", json={"name": "v", "size": 10, "dataCenter": "MARS-1"})
    assert status == 400 and body["errors"][0].startswith("dataCenter:")
    status, body = send("GET", "/serverless/nope")
    assert (status, body["title"]) == (404, "Not Found")
    status, body = send("GET", "/serverless", headers={"Authorization": "Bearer wrong"})
    assert (status, body["status"]) == (401, 401)
    status, body = send("GET", "/pods")
    assert status == 404  # pods are not served locally


def test_client_errors_say_what_to_do(platform):
    wrong = Target("runpod", platform.target.job_api_url, platform.target.control_api_url, Secret("rp_wrong"))
    client = ControlClient(wrong, retries=0)
    recorder = ContractRecorder(client)
    with pytest.raises(ControlError) as err:
        client.list_endpoints()
    assert err.value.status == 401 and "check RUNPOD_API_KEY" in str(err.value) and "rp_wrong" not in str(err.value)
    recorder.check()
    with pytest.raises(ControlError) as err:
        ControlClient(platform.target).create_network_volume({"name": "v", "size": 5000, "dataCenter": "EU-RO-1"})
    assert err.value.status == 422 and "size:" in str(err.value) and "deployment spec" in str(err.value)


def test_templates_registries_and_catalog(client):
    tpl = client.create_template({"name": "tpl", "image": "me/worker:1", "serverless": True,
                                  "env": {"A": "1"}})
    assert client.get_template(tpl["id"])["image"] == "me/worker:1"
    ep = client.create_endpoint({"name": "from-template", "type": "QUEUE", "templateId": tpl["id"],
                                 "scaling": {"type": "REQUEST_COUNT", "requestCount": 2},
                                 "gpu": {"pools": ["ADA_24"], "excludedTypes": []}})
    # the v2 template trap: editing the template does not reach the endpoint
    client.update_template(tpl["id"], {"image": "me/worker:2"})
    assert client.get_endpoint(ep["id"])["image"] == "me/worker:1"
    client.update_endpoint(ep["id"], {"image": "me/worker:2"})
    assert client.get_endpoint(ep["id"])["image"] == "me/worker:2"
    client.delete_endpoint(ep["id"])
    client.delete_template(tpl["id"])
    assert tpl["id"] not in [t["id"] for t in client.list_templates()]

    reg = client.create_registry("hub", "me", Secret("s3cret"))
    assert client.get_registry(reg["id"]) == {"id": reg["id"], "name": "hub"}
    assert reg["id"] in [r["id"] for r in client.list_registries()]
    client.delete_registry(reg["id"])

    gpus = client.gpus()
    assert {g["pool"] for g in gpus} >= {"AMPERE_16", "ADA_24", "HOPPER_141"}
    assert client.gpus(availability=False)[0].get("dataCenters") is None
    assert {d["id"] for d in client.datacenters(gpu_availability=True)} == {"EU-RO-1", "US-KS-2", "US-TX-3"}
