"""Notebook 07 runs headless and publishes what it claims: a local run billed per worker, a simulated day,
a Pareto front, and an estimate that reconciles with the platform's billing answer."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
def test_notebook_07_reconciles_the_estimate_with_the_bill(executed_notebook):
    glued = executed_notebook("07").glued
    assert glued["workers_billed"] >= 1 and glued["billed_s"] > 0
    assert 0 < glued["idle_share"] < 1 and glued["usd_per_job"] > 0
    assert glued["sim_usd_per_day"] > 0 and glued["sim_p95_s"] > 0
    assert glued["pareto_points"] >= 1 and glued["break_even_per_hour"] > 0
    assert glued["findings_usd_per_month"] > 0
    assert glued["estimated_usd"] == pytest.approx(glued["billed_usd"], rel=0.25)
