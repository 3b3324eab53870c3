"""The cloud (CUDA) worker image builds here from the lock and imports inside (no GPU needed to import).

Several GB of wheels and about +10 GB of disk: only with ``-m cloud_image``
(``.venv/bin/python -m pytest -m cloud_image tests/test_cloud_image.py``)."""

from __future__ import annotations

import pytest
import tools

from playbook.image import build, dockerhost


@pytest.mark.cloud_image
@pytest.mark.timeout(3600)  # a cold build: 3 GB of wheels into the context, a 5 GB layer
@pytest.mark.docker
def test_cloud_image_builds_from_the_lock_and_imports(docker_daemon):
    settings = build.cloud_settings()
    if not dockerhost.image_exists(settings.base_image):
        tools.missing(f"the local base image {settings.base_image} is missing: run scripts/services.sh")
    built = build.build_image(settings, progress=False)
    assert build.check_platform(built.reference).ok
    info = build.image_info(built.reference)
    assert info.torch.startswith(build.TORCH_VERSION) and "cpu" not in info.torch
    assert info.cuda and info.min_cuda_version == ".".join(info.cuda.split(".")[:2])
    code = ("import torch, runpod, diffusers, transformers, imagegen.service, imagegen.pipeline as p; "
            "print('import-ok', torch.__version__, torch.version.cuda, torch.backends.cudnn.version(), "
            "torch.cuda.is_available(), p.choose_device('auto'))")
    out = dockerhost.run_and_read(built.reference, ["python3", "-c", code], working_dir="/app").stdout
    assert "import-ok" in out and "cpu" in out.split()[-1], out  # no GPU here: auto picks the CPU
    report = build.size_report(built.reference, budget_gb=20)
    print(f"\ncloud image {built.reference}: {report.total_gb:.2f} GB, torch {info.torch}, CUDA {info.cuda}")
    for layer in report.layers:
        if layer.size_mb >= 1:
            print(f"  {layer.size_mb:9.1f} MB  {layer.created_by[:90]}")
