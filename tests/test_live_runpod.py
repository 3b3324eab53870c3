"""The live test: against RunPod itself, create a small network volume and an endpoint from a spec,
check them (and that a second apply changes nothing), roll a new image as a release, then destroy both.
Every exchange is validated against RunPod's spec. Runs only when RUNPOD_API_KEY is set (environment
or .env); it costs a few cents of volume storage and no GPU time (workers.min = 0, no jobs are sent)."""

from __future__ import annotations

import uuid

import pytest
from openapi_contract import ContractRecorder

from playbook import deploy
from playbook.api.control import ControlClient
from playbook.api.gpus import live_catalog
from playbook.core.config import resolve_target
from playbook.core.secrets import lookup
from playbook.deploy.spec import spec_from_dict

pytestmark = [
    pytest.mark.live_runpod,
    pytest.mark.skipif(not lookup("RUNPOD_API_KEY"),
                       reason="RUNPOD_API_KEY is not set: this test creates, checks and destroys a real RunPod "
                              "endpoint and a 10 GB network volume"),
]


def test_live_endpoint_and_volume_lifecycle():
    client = ControlClient(resolve_target("runpod"))
    recorder = ContractRecorder(client)
    catalog = live_catalog(client)
    pools = catalog.cheapest(8, n=2)
    stocked = sorted({dc for p in pools for dc, level in catalog[p].stock.items() if level in ("MEDIUM", "HIGH")})
    assert stocked, f"no data center has stock of {pools} right now"
    name = f"playbook-live-{uuid.uuid4().hex[:8]}"
    spec = spec_from_dict({"name": name, "image": "docker.io/library/python:3.11-slim", "gpus": pools,
                           "workers": {"min": 0, "max": 1},
                           "volume": {"name": name, "size_gb": 10, "data_center": stocked[0]}})
    try:
        result = deploy.apply(spec, client)
        endpoint = client.get_endpoint(result.endpoint_id)
        assert endpoint["name"].startswith(name) and endpoint["networkVolumes"] == [result.volume_id]
        assert client.get_network_volume(result.volume_id)["dataCenter"] == stocked[0]
        assert not deploy.plan(spec, client).changed, deploy.plan(spec, client).table()
        deploy.apply(spec.with_changes(image="docker.io/library/python:3.12-slim"), client)
        assert client.get_endpoint(result.endpoint_id)["image"].endswith("python:3.12-slim")
        assert client.endpoint_releases(result.endpoint_id)["releases"]
    finally:
        deploy.destroy(spec, client, volume=True)
    assert not deploy.plan_destroy(spec, client, volume=True).changed
    recorder.check()
