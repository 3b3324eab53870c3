"""Notebook 06 (first part) runs and publishes what it claims: the burst completed, the endpoint
scaled up to its maximum and back to zero, and cold starts were recorded."""

from __future__ import annotations

import pytest

from playbook import notebooks


@pytest.mark.notebook
def test_notebook_06_scales_up_and_back_to_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))  # its own volume and demo model
    path = notebooks.NOTEBOOK_DIR / "06_test_and_monitor.ipynb"
    run = notebooks.run_notebook(path, out_dir=tmp_path, html=False)
    assert run.ok, run.error
    glued = run.glued
    assert glued["jobs_completed"] == 13 and glued["jobs_failed"] == 0  # 1 single job + a burst of 12
    assert glued["max_workers"] == 2 and glued["final_workers"] == 0
    assert glued["cold_start_s"] > 0
    assert glued["burst_execution_p50_ms"] > 0 and glued["burst_jobs_per_s"] > 0
