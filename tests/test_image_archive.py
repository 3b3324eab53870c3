"""Images as archives, without a daemon: the platform check, the arm64 refusal and the layer table read the
archive's own config; the archive is a real image (docker load accepts it, the daemon agrees on the platform)."""

from __future__ import annotations

import pytest

from playbook.core.errors import BuildError
from playbook.image import archive as image_archive


def test_an_amd64_archive_passes_and_shows_its_layers(tmp_path):
    path = image_archive.make_archive(tmp_path / "worker.tar")
    image = image_archive.read_archive(path)
    assert (image.os, image.architecture) == ("linux", "amd64")
    assert [layer.created_by for layer in image.layers] == ["COPY worker/requirements.txt /app/requirements.txt",
                                                           "COPY worker/ /app"]
    assert image_archive.require_platform(path).ok
    report = image_archive.size_report(path, budget_gb=10)
    assert not report.over_budget and 0 < report.total_gb < 0.1 and "COPY worker/ /app" in report._repr_html_()


def test_an_arm64_archive_is_refused_with_the_exec_format_explanation(tmp_path):
    path = image_archive.make_archive(tmp_path / "laptop.tar", architecture="arm64")
    with pytest.raises(BuildError, match="is linux/arm64, but RunPod's serverless workers are linux/amd64") as info:
        image_archive.require_platform(path)
    assert "exec format error" in str(info.value)


def test_a_file_that_is_not_an_image_archive_is_named(tmp_path):
    (tmp_path / "x.tar").write_bytes(b"not a tar")
    with pytest.raises(BuildError, match="is not an image archive"):
        image_archive.read_archive(tmp_path / "x.tar")


@pytest.mark.docker
def test_docker_loads_the_archive_and_agrees_on_its_platform(tmp_path, docker_daemon):
    from playbook.image import build, dockerhost

    path = image_archive.make_archive(tmp_path / "laptop.tar", architecture="arm64",
                                      reference="runpod-playbook-archive-test:arm64")
    client = dockerhost.client()
    with open(path, "rb") as f:
        [loaded] = client.images.load(f.read())
    try:
        assert build.check_platform("runpod-playbook-archive-test:arm64").platform == "linux/arm64"
    finally:
        client.images.remove(loaded.id, force=True)
