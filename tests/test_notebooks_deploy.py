"""Notebooks 02 and 05 publish their key results with glue(); assert on them (the session's one journey, through
the executed_notebook fixture)."""

from __future__ import annotations

import pytest


@pytest.mark.notebook
def test_storage_and_gpu_notebook_picks_a_pool_and_fills_the_volume(executed_notebook):
    values = executed_notebook("02").glued
    assert values["cheapest_pools"][:2] == ["AMPERE_16", "AMPERE_24"]  # the tiny model: the two cheapest pools
    assert values["chosen_pool"] == "AMPERE_16"  # headless: the parameter default (the cheapest)
    assert values["volume"]["data_center"] == "EU-RO-1" and values["volume"]["size_gb"] == 10
    assert values["model_files"] >= 5 and 0.1 < values["model_mb"] < 50
    # the VRAM need and the volume size come from the analysis, and the S3 push verified
    from playbook.weights import analyze, demo_model

    expected = analyze.analyze(demo_model.ensure_demo_model(), dtype="float16")
    assert values["vram_gb"] == expected.vram_gb and values["volume_size_gb"] == expected.volume_gb == 10
    assert values["verified"] is True


@pytest.mark.notebook
def test_deploy_notebook_is_idempotent_and_rolls_a_release(executed_notebook):
    values = executed_notebook("05").glued
    # in the journey 02 made the volume already: 05's first plan creates the endpoint alone
    assert values["first_plan"].get("create") == 1 and values["endpoint_created"] is True
    assert values["first_job"]["status"] == "COMPLETED" and values["first_job"]["execution_ms"] > 0
    assert values["second_apply_changed"] is False
    assert [r["version"] for r in values["releases"]] == [2, 1]
    # the release is an env change on the same image (never a tag that exists nowhere)
    assert values["releases"][0]["diff"] == "env.WORKER_PREFETCH: - -> 1"
    # the journey records the release, on the image 05 deployed (04's digest when a daemon ran: never a tag)
    assert values["release"] == {"version": 2, "image": values["deployed_image"], "env": {"WORKER_PREFETCH": "1"}}
    if executed_notebook("04").glued["pushed_digest"]:
        assert values["deployed_image"] == executed_notebook("04").glued["pushed_reference"]
