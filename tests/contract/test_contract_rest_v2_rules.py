"""REST v2 rules that RunPod's spec states in its descriptions rather than its schemas, each tested against
the local platform with every exchange validated against the spec (``rest-v2-beta.openapi.json``). Each test
quotes the sentence it implements."""

from __future__ import annotations

import pytest

from playbook.api.control import ControlError

GPU = {"pools": ["ADA_24"]}
QUEUE_DELAY = {"type": "QUEUE_DELAY", "queueDelay": 4}
REQUEST_COUNT = {"type": "REQUEST_COUNT", "requestCount": 2}


def refused(call, *args, **kwargs) -> ControlError:
    with pytest.raises(ControlError) as info:
        call(*args, **kwargs)
    return info.value


def endpoint(client, **fields) -> dict:
    base = {"name": "rules", "type": "QUEUE", "gpu": GPU, "scaling": QUEUE_DELAY}
    if "templateId" not in fields:
        base["image"] = "me/worker:1"
    return client.create_endpoint({**base, **fields})


def template(client, **fields) -> dict:
    return client.create_template({"name": "tpl", "image": "me/worker:1", "serverless": True, **fields})


def test_template_env_is_merged_per_key_with_the_body_winning(client):
    # CreateEndpointRequest.templateId: "explicit body fields override the template's, except `env`, which is
    # merged per key with body values winning."
    tpl = template(client, env={"A": "template", "B": "template"})
    ep = endpoint(client, templateId=tpl["id"], env={"B": "body", "C": "body"})
    assert ep["env"] == {"A": "template", "B": "body", "C": "body"} and ep["image"] == "me/worker:1"


def test_template_cuda_versions_seed_the_endpoints(client):
    # CreateEndpointRequest.templateId: "The template's allowedCudaVersions seeds `gpu.allowedCudaVersions` when
    # the body omits it [...] and not when the body sets `gpu.minCudaVersion`"
    tpl = template(client, allowedCudaVersions=["12.4", "12.8"])
    seeded = endpoint(client, templateId=tpl["id"])
    assert seeded["gpu"]["allowedCudaVersions"] == ["12.4", "12.8"]
    own = endpoint(client, templateId=tpl["id"], gpu={**GPU, "allowedCudaVersions": ["12.9"]})
    assert own["gpu"]["allowedCudaVersions"] == ["12.9"]
    floor = endpoint(client, templateId=tpl["id"], gpu={**GPU, "minCudaVersion": "12.6"})
    assert floor["gpu"]["allowedCudaVersions"] == [] and floor["gpu"]["minCudaVersion"] == "12.6"


def test_patch_with_a_template_applies_its_fields_once(client):
    # UpdateEndpointRequest.templateId: "container settings are applied as if they were provided in this PATCH
    # body [...] Explicit body fields override the template's; `env` merges template and body per key (body
    # wins) and, per PATCH semantics, replaces the endpoint's env. One-time application"
    ep = endpoint(client, env={"OLD": "1"})
    tpl = template(client, image="me/worker:2", env={"A": "template", "B": "template"})
    patched = client.update_endpoint(ep["id"], {"templateId": tpl["id"], "env": {"B": "body"}})
    assert patched["image"] == "me/worker:2" and patched["env"] == {"A": "template", "B": "body"}
    client.update_template(tpl["id"], {"image": "me/worker:3"})
    assert client.get_endpoint(ep["id"])["image"] == "me/worker:2"  # no link retained
    assert client.endpoint_releases(ep["id"])["endpointVersion"] == 2  # a container change: a new release


def test_a_pod_template_is_refused(client):
    # CreateEndpointRequest.templateId: "must be a serverless template (→ 422)"; the same on PATCH
    pod = template(client, serverless=False)
    error = refused(endpoint, client, templateId=pod["id"])
    assert error.status == 422 and "serverless template" in error.detail
    ep = endpoint(client)
    assert refused(client.update_endpoint, ep["id"], {"templateId": pod["id"]}).status == 422
    assert refused(client.update_endpoint, ep["id"], {"templateId": "nosuchtemplate"}).status == 404


def test_unknown_excluded_types_are_refused(client):
    # BaseEndpointGpuConfig.excludedTypes: "Rejected with 400 if a value is not a GPU type in one of `pools`
    # [...] Surrounding whitespace is trimmed"
    error = refused(endpoint, client, gpu={**GPU, "excludedTypes": ["NVIDIA GeForce RTX 4090x"]})
    assert error.status == 400 and "4090x" in error.detail
    wrong_pool = refused(endpoint, client, gpu={"pools": ["AMPERE_16"], "excludedTypes": ["NVIDIA H100 80GB HBM3"]})
    assert wrong_pool.status == 400


def test_excluded_types_are_trimmed(client, platform):
    pool = platform.control_state.catalog["AMPERE_24"]
    kept, dropped = pool.gpu_types[0], pool.gpu_types[-1]
    ep = endpoint(client, gpu={"pools": ["AMPERE_24"], "excludedTypes": [f" {dropped} "]})
    assert ep["gpu"]["excludedTypes"] == [dropped] and kept != dropped


def test_idle_timeout_is_refused_and_omitted_with_request_count(client):
    # WorkersConfig.idleTimeout: "Not applicable to queue-based endpoints scaling on `requestCount` — rejected
    # on create/update and omitted from responses for that combination."
    error = refused(endpoint, client, scaling=REQUEST_COUNT, workers={"max": 2, "idleTimeout": 5})
    assert error.status == 400 and "idleTimeout" in error.detail
    ep = endpoint(client, scaling=REQUEST_COUNT, workers={"max": 2})
    assert "idleTimeout" not in ep["workers"] and "idleTimeout" not in client.get_endpoint(ep["id"])["workers"]
    assert refused(client.update_endpoint, ep["id"], {"workers": {"idleTimeout": 5}}).status == 400
    switched = client.update_endpoint(ep["id"], {"scaling": QUEUE_DELAY, "workers": {"idleTimeout": 7}})
    assert switched["workers"]["idleTimeout"] == 7  # back on QUEUE_DELAY, it applies and shows again


def test_pools_alone_clear_excluded_types(client, platform):
    # BaseEndpointGpuConfig.excludedTypes: "a `PATCH` sending `pools` **without `excludedTypes`** **clears**
    # them [...] A `PATCH` that omits `pools` leaves both the pools and the exclusions untouched"
    dropped = platform.control_state.catalog["AMPERE_24"].gpu_types[-1]
    ep = endpoint(client, gpu={"pools": ["AMPERE_24"], "excludedTypes": [dropped]})
    cuda_only = client.update_endpoint(ep["id"], {"gpu": {"minCudaVersion": "12.6"}})
    assert cuda_only["gpu"]["excludedTypes"] == [dropped] and cuda_only["gpu"]["pools"] == ["AMPERE_24"]
    cleared = client.update_endpoint(ep["id"], {"gpu": {"pools": ["AMPERE_24", "ADA_24"]}})
    assert not cleared["gpu"].get("excludedTypes") and cleared["gpu"]["pools"] == ["AMPERE_24", "ADA_24"]
