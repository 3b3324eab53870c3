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


@pytest.mark.notebook
def test_notebook_01_shows_the_real_pipelines_beside_the_model(executed_notebook):
    """The table, chart and placement rows of 01 are the meta-device analysis of the published configs, and the
    model's own row is the analysis above it: nothing in them is typed in."""
    from playbook.weights import architectures

    glued = executed_notebook("01").glued
    fresh = architectures.analyze_all()
    models = glued["models"]
    assert [m["model"] for m in models[1:]] == [arch.title for arch, _ in fresh]
    assert [(m["params"], m["vram_gb"], m["recommended"]) for m in models[1:]] == [
        (a.params, a.vram_gb, a.placements().recommended) for _, a in fresh]
    own = models[0]
    assert (own["params"], own["vram_gb"], own["recommended"]) == (glued["params"], glued["vram_gb"],
                                                                    glued["recommended"])
    assert glued["real_components"]["FLUX.1 [dev]/transformer"] == 11_901_408_320
    recommended = {(r["model"], r["placement"]) for r in glued["placement_rows"] if r["recommended"]}
    assert recommended == {(m["model"], m["recommended"]) for m in models}


@pytest.mark.notebook
def test_notebook_02_says_why_it_follows_or_overrides_01(executed_notebook):
    """02 compares its network volume with 01's recommendation for the same model, in that model's numbers."""
    first, second = executed_notebook("01").glued, executed_notebook("02").glued
    choice = second["placement_choice"]
    assert choice["recommended"] == first["recommended"]
    assert choice["follows"] == (first["recommended"] == "network volume")
    own = [r for r in first["placement_rows"] if r["model"] == first["models"][0]["model"]]
    volume = next(r for r in own if r["placement"] == "network volume")
    assert choice["volume_usd_per_month"] == volume["usd_per_month"]
    assert f"${volume['usd_per_month']:g}/month" in choice["sentence"]


def test_the_quickstart_lists_exactly_the_notebooks_that_exist():
    import re

    import nbformat

    from playbook.journey import notebooks

    quick = nbformat.read(notebooks.select(["00"])[0], as_version=4)
    listed = set(re.findall(r"\| `(\d\d_[a-z_]+)` \|", "\n".join(c.source for c in quick.cells)))
    assert listed == {p.stem for p in notebooks.all_notebooks()}
