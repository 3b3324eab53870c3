"""The journey: every notebook in order on one local platform, with another model than the demo's
(brought in through the `model_dir` parameter, as `playbook notebooks -p model_dir=...` does), each step
reusing what the previous one made; and 02's own checks pass for whichever pool its picker offers."""

from __future__ import annotations

import pytest

from playbook import journey, notebooks
from playbook.demo_model import make_demo_model

JOURNEY_MODEL_SIZE = "small"  # stands in for "your own model": another folder name, another size


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    import os

    build = tmp_path_factory.mktemp("journey-build")
    old = os.environ.get("PLAYBOOK_BUILD_DIR")
    os.environ["PLAYBOOK_BUILD_DIR"] = str(build)
    try:
        model = make_demo_model(tmp_path_factory.mktemp("models") / "my-model", size=JOURNEY_MODEL_SIZE)
        runs = notebooks.run_all(notebooks.all_notebooks(), out_dir=build / "notebooks",
                                 parameters=notebooks.parse_parameters([f"model_dir={model}"]))
        yield {r.name[:2]: r for r in runs}, journey.state("local"), model
    finally:
        if old is None:
            os.environ.pop("PLAYBOOK_BUILD_DIR", None)
        else:
            os.environ["PLAYBOOK_BUILD_DIR"] = old


@pytest.mark.notebook
@pytest.mark.slow
def test_the_journey_runs_in_order_and_each_step_uses_what_the_previous_made(chain):
    runs, state, model = chain
    failed = {k: r.error for k, r in runs.items() if not r.ok}
    assert not failed, failed
    storage, deploy_nb, monitor_nb = runs["02"].glued, runs["05"].glued, runs["06"].glued
    # 05 deploys 02's spec: the same volume, found by name, not a second one
    assert deploy_nb["volume_id"] == storage["volume"]["id"] == state["volume_id"]
    assert deploy_nb["first_plan"].get("create") == 1  # the endpoint only
    # the model on the volume is the one brought in, not the demo model
    assert state["model_dir"] == str(model) and storage["model_mb"] > 5
    assert deploy_nb["first_job"]["status"] == "COMPLETED"
    # 04's pushed digest is what 05 deployed (without a Docker daemon: the spec's image, run as a process)
    image = runs["04"].glued
    if image["pushed_digest"]:
        assert deploy_nb["deployed_image"].endswith("@" + image["pushed_digest"])
    # 06 sends its jobs to 05's endpoint
    assert monitor_nb["reused_endpoint"] is True and monitor_nb["jobs_completed"] == 13
    assert monitor_nb["final_workers"] == 0


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("place", [3, -1], ids=["fourth_pool", "last_pool"])
def test_storage_notebook_checks_pass_for_any_pool_the_picker_offers(place, tmp_path, monkeypatch,
                                                                     executed_notebook):
    offered = executed_notebook("02").glued["offered_pools"]
    assert len(offered) >= 4
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    [path] = notebooks.select(["02"])
    run = notebooks.run_notebook(path, out_dir=tmp_path / "out", parameters={"gpu_pool": offered[place]},
                                 html=False)
    assert run.ok, run.error
    assert run.glued["chosen_pool"] == offered[place]
