"""The journey: every notebook in order on one local platform, with another model than the demo's
(brought in through the `model_dir` parameter, as `playbook notebooks -p model_dir=...` does), each step
reusing what the previous one made: 01's analysis sizes 02's spec, 05's endpoint serves 06, 07 and 08,
and 08 leaves nothing on the platform; and 02's own checks pass for whichever pool its picker offers."""

from __future__ import annotations

import pytest

from playbook.journey import notebooks


@pytest.fixture(scope="module")
def chain(journey_run):
    """The session's one journey (tests/conftest.py): runs by prefix, 08's view of the journey's state before its
    teardown, the model brought in, and the local state after 08."""
    by_name, model, after = journey_run
    return by_name, by_name["08"].glued.get("journey_state", {}), model, after


@pytest.mark.notebook
@pytest.mark.slow
def test_the_journey_runs_in_order_and_each_step_uses_what_the_previous_made(chain):
    runs, state, model, _ = chain
    failed = {k: r.error for k, r in runs.items() if not r.ok}
    assert not failed, failed
    storage, deploy_nb, monitor_nb = runs["02"].glued, runs["05"].glued, runs["06"].glued
    # 05 deploys 02's spec: the same volume, found by name, not a second one
    assert deploy_nb["volume_id"] == storage["volume"]["id"] == state["volume_id"]
    assert deploy_nb["first_plan"].get("create") == 1  # the endpoint only
    # the model on the volume is the one brought in, not the demo model
    pushed = sum(f.stat().st_size for f in model.rglob("*") if f.is_file() and not f.name.startswith("."))
    assert state["model_dir"] == str(model) and storage["model_mb"] == pytest.approx(pushed / 1e6, abs=0.01)
    assert deploy_nb["first_job"]["status"] == "COMPLETED"
    # (that 05 deployed 04's pushed digest: the next test, which needs Docker)
    # 06 sends its jobs to 05's endpoint, and keeps 05's image and release (it changes the scaling only)
    assert monitor_nb["reused_endpoint"] is True and monitor_nb["jobs_completed"] == 13
    assert deploy_nb["releases"][0]["diff"] == "env.WORKER_PREFETCH: - -> 1"
    assert [c for c in monitor_nb["endpoint_changes"] if not c.startswith(("workers.", "scaling."))] == []
    assert monitor_nb["final_workers"] == 0


@pytest.mark.notebook
@pytest.mark.slow
def test_on_a_machine_without_docker_05_deploys_the_specs_image_as_local_processes(chain):
    """The journey runs as `make playbook` does on a fresh machine (tests/journey_child.py: no daemon, no registry):
    04 builds and pushes nothing, and 05 deploys the spec's image, which the local platform runs as local worker
    processes. That 05 deploys the digest 04 pushed, run in containers, is the rehearsal's (tests/test_rehearsal.py),
    which has the daemon and the registry."""
    runs = chain[0]
    assert runs["04"].glued["docker_available"] is False and runs["04"].glued["pushed_digest"] is None
    deployed, shown = runs["05"].glued["deployed_image"], runs["05"].executed.read_text()
    assert "@" not in deployed and runs["05"].glued["first_job"]["status"] == "COMPLETED"
    assert "No Docker daemon here, so no image was pushed" in shown and f"in place of {deployed}." in shown


@pytest.mark.notebook
@pytest.mark.slow
def test_the_analysis_of_01_sizes_the_spec_of_02(chain):
    runs, _, model, _ = chain
    analysis, storage = runs["01"].glued["recorded_analysis"], runs["02"].glued
    assert analysis["model"] == str(model.resolve())  # 01 analysed the model brought in, not the demo model
    assert storage["sized_by"] == "01_analyze_model"
    assert storage["vram_gb"] == analysis["vram_gb"] == runs["01"].glued["vram_gb"]
    assert storage["container_disk_gb"] == analysis["container_disk_gb"]
    assert storage["volume_size_gb"] == analysis["volume_gb"]
    # the picker offers only pools 01 found to fit (those with stock in the volume's data center)
    assert storage["chosen_pool"] in storage["offered_pools"]
    assert set(storage["offered_pools"]) <= set(analysis["fitting_pools"])


@pytest.mark.notebook
@pytest.mark.slow
def test_07_and_08_use_the_endpoint_05_made_and_08_leaves_nothing(chain):
    runs, _, _, after = chain
    endpoint_id = runs["06"].glued["endpoint_id"]
    assert runs["06"].glued["reused_endpoint"] is True  # 05's (the first test checks it too)
    assert runs["07"].glued["endpoint_id"] == endpoint_id and runs["07"].glued["reused_endpoint"] is True
    assert runs["08"].glued["endpoint_id"] == endpoint_id and runs["08"].glued["reused_endpoint"] is True
    # 07 billed only its own replay on the shared endpoint, and the bill agrees with the estimate
    cost = runs["07"].glued
    assert cost["workers_billed"] >= 1 and cost["estimated_usd"] == pytest.approx(cost["billed_usd"], rel=0.25)
    # 08's throw-away endpoints are gone; its teardown deleted the journey's endpoint and volume, and forgot them
    troubleshoot = runs["08"].glued
    assert troubleshoot["journey_verdict"] == "healthy"
    deleted = {(r["kind"], r["id"]) for r in troubleshoot["torn_down"] if r["action"] == "delete"}
    assert deleted == {("endpoint", endpoint_id), ("network volume", runs["02"].glued["volume"]["id"])}
    assert troubleshoot["remaining"] == {"endpoints": [], "templates": [], "network volumes": []}
    assert after == {}  # the journey's local state is forgotten: a rerun starts fresh


@pytest.mark.notebook
@pytest.mark.slow
def test_storage_notebook_checks_pass_for_a_pool_given_as_a_parameter(tmp_path, monkeypatch, executed_notebook):
    """``-p gpu_pool=...``: the journey's 02 takes the cheapest pool, so this run takes the last one offered. Every
    pool the picker offers is chosen, and 02's checks pass, through the widget in tests/test_jupyterlab_picker.py."""
    offered = executed_notebook("02").glued["offered_pools"]
    assert len(offered) >= 4
    pool = offered[-1]
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    [path] = notebooks.select(["02"])
    run = notebooks.run_notebook(path, out_dir=tmp_path / "out", parameters={"gpu_pool": pool},
                                 html=False)
    assert run.ok, run.error
    assert run.glued["chosen_pool"] == pool
