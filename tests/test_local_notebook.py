"""Notebook 06 (first part) runs and publishes what it claims: the burst completed, the endpoint
scaled up to its maximum and back to zero, and cold starts were recorded."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
def test_notebook_06_scales_up_and_back_to_zero(executed_notebook):
    glued = executed_notebook("06").glued
    assert glued["jobs_completed"] == 13 and glued["jobs_failed"] == 0  # 1 single job + a burst of 12
    assert glued["max_workers"] == 2 and glued["final_workers"] == 0
    assert glued["cold_start_s"] > 0
    assert glued["burst_execution_p50_ms"] > 0 and glued["burst_jobs_per_s"] > 0
    # part 2: the workers view, logs, cold-start breakdown, idle workers explained, a live burst
    assert 0 <= glued["idle_workers"] <= glued["max_workers"] and glued["live_jobs_completed"] == 4
