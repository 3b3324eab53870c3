"""Notebook 04 publishes what it found (glue); these are the values a reader sees, checked."""

from __future__ import annotations

import pytest

from playbook.journey import notebooks


@pytest.mark.docker
@pytest.mark.notebook
def test_build_notebook_results(worker_image, registry, executed_notebook):
    glued = executed_notebook("04").glued
    assert glued["docker_available"] is True and glued["lint_findings"] == 0
    assert glued["platform"] == "linux/amd64" and glued["wrong_arch_refused"] is True
    assert 0.2 < glued["image_size_gb"] < 10 and glued["over_budget"] is False
    assert glued["pushed_digest"].startswith("sha256:")
    trial = glued["trial"]
    assert trial["runner"] == "docker" and trial["status"] == "COMPLETED" and trial["ran_pushed_image"]
    assert trial["containers_left"] == 0 and trial["first_job_s"] > 0


@pytest.mark.notebook
def test_build_notebook_without_docker_says_so(tmp_path, monkeypatch):
    """No daemon: the build, push and trial cells skip with a plain message; the platform check, the arm64
    refusal and the size table are taught from image archives the playbook writes itself."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    path = notebooks.NOTEBOOK_DIR / "04_build_image.ipynb"
    run = notebooks.run_notebook(path, out_dir=tmp_path / "nb", html=False)
    assert run.ok, run.error
    assert run.glued["docker_available"] is False and run.glued["lint_findings"] == 0
    assert run.glued["pushed_digest"] is None and run.glued["trial"] is None
    assert run.glued["platform"] == "linux/amd64" and run.glued["wrong_arch_refused"] is True
    assert 0 < run.glued["image_size_gb"] < 0.1 and run.glued["over_budget"] is False
    assert "No Docker daemon" in run.executed.read_text()
