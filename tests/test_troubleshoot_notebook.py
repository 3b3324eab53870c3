"""Notebook 08 runs headless through every pitfall as a clinic: each is broken (all at once), its symptom
awaited (never the verdict), the doctor asked once gives the verdict the pitfall is known to produce, with
evidence, and after the doctor's own fix every copy passes. The pitfalls that need a Docker daemon (an arm64
image, a pull from the registry) are skipped without one. What its sections say about each symptom is
pinned here against the glued values."""

from __future__ import annotations

import pytest

from playbook.doctor.troubleshoot import PITFALLS


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_08_diagnoses_and_fixes_every_pitfall(executed_notebook):
    glued = executed_notebook("08").glued
    ran = set(glued["pitfalls_run"])
    assert set(PITFALLS) - ran <= {name for name, p in PITFALLS.items() if p.needs_docker}
    assert {name for name in PITFALLS if glued[f"{name}_verdict"] == "skipped"} == set(PITFALLS) - ran
    verdicts = {name: glued[f"{name}_verdict"] for name in ran}
    assert verdicts == {name: PITFALLS[name].verdict for name in ran}
    assert all(glued[f"{name}_evidence"] >= 2 for name in ran)  # the status line and at least one more
    fixed = {name: glued[f"{name}_fixed"] for name in ran}
    assert set(fixed.values()) == {"healthy"}, fixed
    assert (glued["template_trap_verdict"], glued["template_trap_fixed"]) == ("stale_release", "healthy")
    assert glued["spec_verdicts"] == {"costly": "runaway_cost", "old SDK": "sdk_bug", "demo": "healthy"}


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_08_says_what_each_symptom_shows(executed_notebook):
    """The sections' sentences about each symptom (a job that fails, waits, times out; workers THROTTLED,
    UNHEALTHY, stale, idle, none) hold for what this run saw."""
    symptoms = executed_notebook("08").glued["symptoms"]
    job = {name: s["job"] for name, s in symptoms.items()}
    workers = {name: s["workers"] for name, s in symptoms.items()}
    for name in ("env_typo", "crash_loop", "exec_format", "image_pull", "models_missing", "cuda_mismatch",
                 "out_of_memory"):
        assert job.get(name, "FAILED") == "FAILED", (name, symptoms[name])
    assert job["no_stock"] == "IN_QUEUE" and "THROTTLED" in workers["no_stock"]
    assert job["no_workers"] == "IN_QUEUE" and workers["no_workers"] == "none"
    assert job["timeout"] == "TIMED_OUT"
    assert "UNHEALTHY" in workers["slow_start"]
    assert "(stale)" in workers["stale_release"] and job["stale_release"] is None
    assert "IDLE" in workers["runaway_cost"] and job["runaway_cost"] is None


@pytest.mark.docker
@pytest.mark.slow
def test_the_docker_pitfalls_of_08_break_and_fix_on_a_local_platform(worker_image, pushed_worker_image, tmp_path,
                                                                     monkeypatch):
    """The two pitfalls 08 makes only with a Docker daemon, as its walk-through makes them: an arm64 build of the
    image (its workers die with "exec format error") and a tag the registry lacks (the pull fails), on copies of an
    endpoint that runs the pushed image; the doctor names each, its fix is applied, and a fresh job then completes.
    The journey's 08 has no daemon (tests/journey_child.py) and skips both; the rehearsal's makes the pull, not the
    arm64 build (RUNPOD_SKIPS)."""
    import playbook.local
    from playbook import deploy
    from playbook.api.control import ControlClient
    from playbook.core.config import REPO_ROOT
    from playbook.core.settings import model_dir
    from playbook.deploy.spec import load_spec
    from playbook.doctor import troubleshoot
    from playbook.local import volume_folder
    from playbook.weights.demo_model import make_demo_model

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml").with_changes(
        image=pushed_worker_image.reference, workers={"min": 0, "max": 1, "idle_timeout_s": 2})
    with playbook.local.start(record=False) as platform:
        client = ControlClient(platform.target)
        result = deploy.apply(spec, client)
        make_demo_model(model_dir(volume_folder(result.volume_id)))
        walk = troubleshoot.Walkthrough(client, result.endpoint_id, timeout_s=300)
        names = ["exec_format", "image_pull"]
        cases = walk.break_all(names)
        assert {n: c.diagnosis.verdict for n, c in cases.items()} == {n: PITFALLS[n].verdict for n in names}
        assert all(len(c.diagnosis.evidence) >= 2 for c in cases.values())
        for name in names:
            walk.fix(name)
        after = walk.verify_all()  # the fixed copies are deleted once they pass
        assert {n: d.verdict for n, d in after.items()} == {n: "healthy" for n in names}
        assert {n: c.verify_job.status for n, c in cases.items()} == {n: "COMPLETED" for n in names}
        deploy.destroy(spec, client)
