"""Notebook 04 publishes what it found (glue); these are the values a reader sees, checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from executed_outputs import outputs_text

from playbook.image import layer_reference
from playbook.journey import image_trial


@pytest.mark.docker
@pytest.mark.notebook
@pytest.mark.slow
def test_build_notebook_results(worker_image, registry, rehearsal_run):
    """04 with a Docker daemon and a registry, as the rehearsal ran it (the journey has neither): it builds, measures
    and pushes; its local image trial is skipped there (tests/test_rehearsal.py), and tried below on its own."""
    report, _ = rehearsal_run
    [run] = [r for r in report["runs"] if r["name"].startswith("04")]
    glued, executed = run["glued"], Path(run["executed"])
    assert glued["docker_available"] is True and glued["lint_findings"] == 0
    assert glued["platform"] == "linux/amd64" and glued["wrong_arch_refused"] is True
    assert 0.2 < glued["image_size_gb"] < 10 and glued["over_budget"] is False
    assert glued["pushed_digest"].startswith("sha256:")
    assert glued["pushed_reference"].endswith("@" + glued["pushed_digest"])
    assert glued["sizes_measured_here"] is True and 0.2 < glued["minimal_size_gb"] < 10
    # the size sentences are computed from the measurement: the figures a reader sees are the glued ones
    shown = "\n".join(outputs_text(executed))
    assert f"{glued['image_size_gb']:.2f} GB" in shown and f"{glued['minimal_size_gb']:.2f} GB" in shown
    assert f"{glued['largest_layer'][1]:,.0f} MB" in shown


@pytest.mark.docker
@pytest.mark.slow
def test_the_image_trial_runs_the_pushed_image_in_a_container_and_scales_to_zero(worker_image, pushed_worker_image,
                                                                                tmp_path, monkeypatch):
    """04's trial (``image_trial.deploy_and_run``): a local platform deploys the pushed image, one job runs in a
    container of it, and the endpoint goes back to zero workers and zero containers."""
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    trial = image_trial.deploy_and_run(pushed_worker_image.reference)
    assert trial.runner == "docker" and trial.status == "COMPLETED" and trial.first_job_s > 0
    assert trial.container_image_ids == [worker_image.image_id]
    assert (trial.workers_left, trial.containers_left) == (0, 0)


@pytest.mark.notebook
@pytest.mark.slow
def test_build_notebook_without_docker_says_so(executed_notebook):
    """No daemon (the journey runs as on a fresh machine: tests/journey_child.py): the build, push and trial cells
    skip with a plain message; the platform check, the arm64 refusal and the size table are taught from image
    archives the playbook writes itself."""
    run = executed_notebook("04")
    assert run.glued["docker_available"] is False and run.glued["lint_findings"] == 0
    assert run.glued["pushed_digest"] is None and run.glued["trial"] is None
    assert run.glued["platform"] == "linux/amd64" and run.glued["wrong_arch_refused"] is True
    # sizes: the dated reference a real build recorded (docs/measured/image_layers.json), never an empty chart
    reference = layer_reference.load()
    assert run.glued["sizes_measured_here"] is False and run.glued["reference_date"] == reference.date
    assert run.glued["image_size_gb"] == reference.reports["production"].total_gb and run.glued["over_budget"] is False
    assert run.glued["minimal_size_gb"] == reference.reports["minimal"].total_gb
    shown = "\n".join(outputs_text(run.executed))
    assert "No Docker daemon answers" in shown and reference.date in shown and reference.docker_version in shown
    assert "Exception" not in shown and "image/png" not in run.executed.read_text()  # one sentence, no chart
