"""The image's torch CUDA version reaches the spec (min_cuda_version) and plan refuses pools without it."""

from __future__ import annotations

import pytest

from playbook import deploy
from playbook.api import gpus
from playbook.deploy.body import endpoint_body
from playbook.deploy.spec import DeploymentSpec
from playbook.image import build, registry


def gpu(pool: str, gpu_id: str, versions: list[str]) -> dict:
    return {"id": gpu_id, "name": gpu_id, "pool": pool, "memory": 24, "price": {"serverless": 1.0},
            "dataCenters": [{"id": "US-KS-2", "availability": "HIGH"}],
            "cudaVersions": [{"version": v, "available": True} for v in versions]
            + [{"version": "13.1", "available": False}]}


CATALOG = gpus.from_api([gpu("ADA_24", "NVIDIA GeForce RTX 4090", ["12.4", "12.8"]),
                         gpu("AMPERE_24", "NVIDIA L4", ["12.8", "13.0"])])


def spec(pools, cuda=None) -> DeploymentSpec:
    return DeploymentSpec(name="w", image="r/w@sha256:" + "a" * 64, gpus=pools, data_centers=["US-KS-2"],
                          min_cuda_version=cuda)


def test_pools_without_a_host_for_the_images_cuda_are_refused():
    with pytest.raises(deploy.PlacementError, match=r"needs CUDA 13.0 .* offer only CUDA 12.4, 12.8"):
        deploy.check_placement(spec(["ADA_24"], "13.0"), CATALOG)
    pools, _, notes = deploy.check_placement(spec(["ADA_24", "AMPERE_24"], "13.0"), CATALOG)
    assert pools == ["ADA_24", "AMPERE_24"] and any("no host with CUDA 13.0" in n for n in notes)
    assert deploy.check_placement(spec(["ADA_24"], "12.8"), CATALOG)[2] == []  # 12.8 is offered
    assert deploy.check_placement(spec(["ADA_24"]), CATALOG)[2] == []  # no minimum: no CUDA check


def test_the_image_cuda_version_becomes_the_specs_minimum():
    pushed = registry.PushedImage("127.0.0.1:5000/w", "sha-x", "sha256:" + "b" * 64, 0.0)
    cuda = build.ImageInfo("w", "2.13.0+cu130", "13.0", "3.11.2")
    assert cuda.min_cuda_version == "13.0"
    pinned = registry.pin_spec(spec(["AMPERE_24"]), pushed, info=cuda)
    assert pinned.image == pushed.reference and pinned.min_cuda_version == "13.0"
    assert registry.pin_spec(spec(["AMPERE_24"], "13.1"), pushed, info=cuda).min_cuda_version == "13.1"  # higher kept
    cpu = build.ImageInfo("w", "2.13.0+cpu", None, "3.11.2")
    assert cpu.min_cuda_version is None
    assert registry.pin_spec(spec(["AMPERE_24"], "12.4"), pushed, info=cpu).min_cuda_version == "12.4"
    body = endpoint_body(pinned, ["AMPERE_24"], [], None)
    assert body["gpu"]["minCudaVersion"] == "13.0"
