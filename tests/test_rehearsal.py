"""The RunPod rehearsal, first part: notebooks 02, 05, 06 and 07 with target "runpod", pointed at a local
platform through `playbook local env --as-runpod`'s variables (the SDK's RUNPOD_API_BASE_URL and
RUNPOD_ENDPOINT_BASE_URL, the S3 override, the platform's key as RUNPOD_API_KEY). Every notebook must talk to
the runpod target at the stand-in's address, the journey's state must be RunPod's, 06 must watch the endpoint
through what RunPod exposes, and 07 must skip (and say so) what only the local platform has."""

from __future__ import annotations

import pytest
from local_support import platform_with_own_build_dir

from playbook.api.control import ControlClient
from playbook.journey import notebooks
from playbook.journey import state as journey
from playbook.local import runpod_variables

pytestmark = [pytest.mark.notebook, pytest.mark.slow]  # four notebooks, worker processes (~4 min)


def test_notebooks_02_to_07_run_with_target_runpod_on_a_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))  # no recorded local platform to fall back on
    with platform_with_own_build_dir(tmp_path / "build", record=False) as standin:
        for name, value in runpod_variables(standin.target).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PLAYBOOK_TARGET", "runpod")  # what `playbook notebooks --target runpod` sets
        runs = notebooks.run_all(notebooks.select(["02", "05", "06", "07"]), out_dir=tmp_path / "out")
        by_name = {r.name[:2]: r for r in runs}
        assert not {k: r.error for k, r in by_name.items() if not r.ok}
        for run in runs:  # each one said, and used, the runpod target at the stand-in's address
            assert f"target: runpod ({standin.url}/v2)" in run.executed.read_text(), run.name
        state = journey.state("runpod")
        assert journey.state("local") == {} and state["endpoint_id"] == by_name["06"].glued["endpoint_id"]
        assert ControlClient(standin.target).get_endpoint(state["endpoint_id"])["name"] == "playbook-demo"
        assert by_name["02"].glued["verified"] is True  # the weights went in through the S3 override
        assert by_name["05"].glued["first_job"]["status"] == "COMPLETED"
        assert state["release"]["version"] == 2 and state["release"]["env"] == {"WORKER_PREFETCH": "1"}
        monitor = by_name["06"].glued
        assert monitor["reused_endpoint"] is True and monitor["jobs_completed"] == 13
        assert monitor["max_workers"] == 2 and monitor["final_workers"] == 0
        assert [c for c in monitor["endpoint_changes"] if not c.startswith(("workers.", "scaling."))] == []
        cost = by_name["07"].glued
        assert cost["reused_endpoint"] is True and "workers_billed" not in cost  # the ledger part is skipped
        assert "skipped on RunPod" in by_name["07"].executed.read_text()
