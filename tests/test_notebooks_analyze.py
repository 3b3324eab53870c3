"""Notebook 01 runs and publishes the analysis it shows: the same exact numbers as playbook.weights.analyze."""

from __future__ import annotations

import pytest

from playbook.weights import analyze, demo_model


@pytest.mark.notebook
def test_notebook_01_publishes_the_analysis(executed_notebook, tmp_path):
    glued = executed_notebook("01").glued
    expected = analyze.analyze(demo_model.make_demo_model(tmp_path / "tiny-sd"), dtype="float16")
    assert glued["params"] == expected.params and glued["weights_disk_bytes"] == expected.weights_disk_bytes
    assert glued["files"] == expected.files() and glued["volume_gb"] == 10
    assert glued["vram_gb"] == pytest.approx(expected.vram_gb)
    assert glued["fitting_pools"][0] == "AMPERE_16" and glued["recommended"] == "bake into image"


def test_the_quickstart_lists_exactly_the_notebooks_that_exist():
    import re

    import nbformat

    from playbook.journey import notebooks

    quick = nbformat.read(notebooks.select(["00"])[0], as_version=4)
    listed = set(re.findall(r"\| `(\d\d_[a-z_]+)` \|", "\n".join(c.source for c in quick.cells)))
    assert listed == {p.stem for p in notebooks.all_notebooks()}
