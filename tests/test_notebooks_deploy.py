"""Notebooks 02 and 05 publish their key results with glue(); assert on them. To keep the suite lean this
reads the copies that tests/test_notebooks.py executed earlier in this session (it sorts first), and runs
a notebook itself only when no fresh copy exists."""

from __future__ import annotations

import time

import pytest

from playbook import notebooks
from playbook.config import build_dir

COLLECTED_AT = time.time()  # copies newer than this were executed in this session


def glued(name: str) -> dict:
    path = notebooks.select([name])[0]
    executed = build_dir() / "test-notebooks" / path.name
    if executed.exists() and executed.stat().st_mtime > COLLECTED_AT:
        return notebooks.read_glued(executed)
    result = notebooks.run_notebook(path, out_dir=build_dir() / "test-notebooks", html=False)
    assert result.ok, f"{path.name} failed: {result.error}"
    return result.glued


@pytest.mark.notebook
def test_storage_and_gpu_notebook_picks_a_pool_and_fills_the_volume():
    values = glued("02")
    assert values["cheapest_pools"][:2] == ["AMPERE_16", "AMPERE_24"]  # 2 GB + 20 %: the two cheapest pools
    assert values["chosen_pool"] == "AMPERE_16"  # headless: the parameter default (the cheapest)
    assert values["volume"]["data_center"] == "EU-RO-1" and values["volume"]["size_gb"] == 10
    assert values["model_files"] >= 5 and 0.1 < values["model_mb"] < 50


@pytest.mark.notebook
def test_deploy_notebook_is_idempotent_and_rolls_a_release():
    values = glued("05")
    assert values["first_plan"] == {"create": 2} and values["endpoint_created"] is True
    assert values["first_job"]["status"] == "COMPLETED" and values["first_job"]["execution_ms"] > 0
    assert values["second_apply_changed"] is False
    assert [r["version"] for r in values["releases"]] == [2, 1]
    assert values["releases"][0]["diff"] == "image: local/playbook-worker:latest -> local/playbook-worker:2"
