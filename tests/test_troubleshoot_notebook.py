"""Notebook 08 runs headless through every pitfall as a clinic: each is broken, its symptom awaited (never
the verdict), the doctor asked once gives the verdict the pitfall is known to produce, with evidence, and
after the doctor's own fix the endpoint passes. The arm64 pitfall needs a Docker daemon (skipped without)."""

from __future__ import annotations

import pytest

from playbook.doctor.troubleshoot import PITFALLS, Walkthrough


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_08_diagnoses_and_fixes_every_pitfall(executed_notebook):
    glued = executed_notebook("08").glued
    ran = {name for name in PITFALLS if Walkthrough.available(name)}
    assert {name for name in PITFALLS if glued[f"{name}_verdict"] == "skipped"} == set(PITFALLS) - ran
    verdicts = {name: glued[f"{name}_verdict"] for name in ran}
    assert verdicts == {name: PITFALLS[name].verdict for name in ran}
    assert all(glued[f"{name}_evidence"] >= 2 for name in ran)  # the status line and at least one more
    fixed = {name: glued[f"{name}_fixed"] for name in ran}
    assert set(fixed.values()) == {"healthy"}, fixed
    assert (glued["template_trap_verdict"], glued["template_trap_fixed"]) == ("stale_release", "healthy")
    assert glued["spec_verdicts"] == {"costly": "runaway_cost", "old SDK": "sdk_bug", "demo": "healthy"}
