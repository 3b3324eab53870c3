"""The RunPod rehearsal (issue 20, point 6): the whole journey, notebooks 00-08, with target "runpod", pointed
at a strict stand-in (a local platform that runs only images pulled from the loopback registry and keeps its
state in its own file) through `playbook local env --as-runpod`'s variables, with a canary API key, in a fresh
build and state folder. It runs in the background (tests/rehearsal_child.py, started by tests/conftest.py at the
end of collection, beside the journey, by the same child process); this file reads its report.

It holds: every notebook that reaches a platform talked to the runpod target at the stand-in's address (none to
a local one); no local platform was recorded or used for the journey; the image 04 pushed to the registry is
what 05 deployed, by digest, and the endpoint's workers ran it in containers; the canary key is nowhere in the
executed notebooks, HTML, logs or state; 08 skipped, each in one line, only what RunPod cannot do through REST
v2, and left nothing of the journey behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from executed_outputs import journey_summaries
from rehearsal_child import CANARY_PREFIX, files_holding

from playbook.doctor import troubleshoot
from playbook.journey.state import short_image

pytestmark = [pytest.mark.notebook, pytest.mark.docker, pytest.mark.slow]

REACH_A_PLATFORM = ("00", "02", "05", "06", "07", "08")  # 01, 03 and 04 work on this machine (04 pushes)


@pytest.fixture(scope="module")
def rehearsal(docker_daemon, registry, rehearsal_run):
    report, folder = rehearsal_run
    runs = {r["name"][:2]: r for r in report["runs"]}
    assert not {k: r["error"] for k, r in runs.items() if r["error"]}, folder
    assert sorted(runs) == [f"{i:02}" for i in range(9)]
    texts = {k: Path(r["executed"]).read_text() for k, r in runs.items()}
    return report, folder, runs, texts


def test_every_notebook_talked_to_the_runpod_target_at_the_stand_ins_address(rehearsal):
    report, folder, runs, texts = rehearsal
    for name in REACH_A_PLATFORM:
        assert f"target: runpod ({report['standin_url']}/v2)" in texts[name], name
    assert [k for k, text in texts.items() if "target: local" in text] == []
    assert "journey (runpod): " in texts["01"]  # 01 records its analysis in RunPod's journey
    assert "skipped on RunPod: a job there needs your image" in texts["00"]  # 00's one line, then its one call
    assert "skipped on RunPod: this trial runs the image on a local platform" in texts["04"]  # 04's local trial
    assert runs["04"]["glued"]["trial"] is None
    # no local-only shortcut: the fresh state folder holds no recorded local platform, the local journey is empty
    assert report["state"]["local"] == {}
    assert not (folder / "state" / "local-platform.json").exists()


def test_the_endpoint_ran_the_pushed_image_by_digest(rehearsal, registry):
    report, folder, runs, _ = rehearsal
    pushed = runs["04"]["glued"]["pushed_reference"]
    assert pushed.startswith(f"{registry}/") and "@sha256:" in pushed
    assert runs["05"]["glued"]["deployed_image"] == pushed
    for name in ("05", "06", "07"):  # each journey summary names that image, its digest shortened once
        summary = journey_summaries(Path(runs[name]["executed"]))[-1]
        assert summary.startswith("journey (runpod): "), (name, summary)
        assert f" · image {short_image(pushed)}" in summary and summary.count("…") == 1, (name, summary)
    assert runs["05"]["glued"]["first_job"]["status"] == "COMPLETED"
    endpoint_id = runs["06"]["glued"]["endpoint_id"]
    assert runs["08"]["glued"]["journey_state"]["endpoint_id"] == endpoint_id
    # the strict stand-in runs nothing but the endpoint's image, pulled from its registry: its workers were containers
    system_logs = list((folder / "standin-logs" / endpoint_id).glob("*.log.system"))
    assert system_logs and all("phase=container_started" in p.read_text() for p in system_logs)
    monitor = runs["06"]["glued"]
    assert monitor["jobs_completed"] == 13 and monitor["final_workers"] == 0


def test_the_canary_key_is_nowhere_in_outputs_logs_or_state(rehearsal):
    report, folder, _, _ = rehearsal
    canary = json.loads((folder / "standin" / "data.json").read_text())["api_key"]
    assert canary.startswith(CANARY_PREFIX)  # the stand-in served the journey with the canary as its key
    assert files_holding(folder, canary, skip=folder / "standin") == []  # notebooks, HTML, logs, journey state
    for log in (folder.parent / "journey.log", folder / "rehearsal.log"):
        assert not log.exists() or canary not in log.read_text(errors="replace"), log


def test_08_skips_only_what_runpod_cannot_do_and_leaves_nothing_behind(rehearsal):
    report, _, runs, texts = rehearsal
    glued = runs["08"]["glued"]
    for name, pitfall in troubleshoot.PITFALLS.items():
        expected = "skipped" if pitfall.simulated or name in troubleshoot.RUNPOD_SKIPS else pitfall.verdict
        assert glued[f"{name}_verdict"] == expected, name
        if expected == "skipped":
            assert f"skipped on RunPod: {name}" in texts["08"], name
        else:
            assert glued[f"{name}_fixed"] == "healthy", name
    assert glued["journey_verdict"] == "healthy"
    assert {s["kind"] for s in glued["torn_down"] if s["action"] == "delete"} >= {"endpoint", "network volume"}
    assert not any(glued["remaining"].values()), glued["remaining"]  # what 08 itself listed at its end
    assert not any(report["left"].values()), report["left"]  # what the stand-in held once the chain ended
    assert report["state"]["runpod"] == {}  # the journey forgot RunPod's state after the teardown
