"""Notebook 08 runs headless through every pitfall: each is diagnosed with the verdict the pitfall is
known to produce, with evidence, and after its fix the doctor finds the endpoint healthy."""

from __future__ import annotations

import pytest

from playbook.doctor.troubleshoot import PITFALLS


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_08_diagnoses_and_fixes_every_pitfall(executed_notebook):
    glued = executed_notebook("08").glued
    verdicts = {name: glued[f"{name}_verdict"] for name in PITFALLS}
    assert verdicts == {name: p.verdict for name, p in PITFALLS.items()}
    assert all(glued[f"{name}_evidence"] >= 2 for name in PITFALLS)  # the status line and at least one more
    fixed = {name: glued[f"{name}_fixed"] for name in PITFALLS}
    assert set(fixed.values()) == {"healthy"}, fixed
    assert (glued["template_trap_verdict"], glued["template_trap_fixed"]) == ("stale_release", "healthy")
    assert glued["spec_verdicts"] == {"costly": "runaway_cost", "old SDK": "sdk_bug", "demo": "healthy"}
