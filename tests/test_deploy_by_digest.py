"""Notebook 05's deploy, in the package: only a digest is deployed (never a tag), and the first job is followed
to its end even when /runsync answers before it."""

from __future__ import annotations

import pytest

from playbook.core.config import REPO_ROOT


def test_05_deploys_only_a_digest(tmp_path, monkeypatch):
    from playbook.core.errors import ConfigError
    from playbook.deploy.spec import load_spec
    from playbook.image import registry

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml")
    digest = "127.0.0.1:5000/runpod-playbook-worker@sha256:" + "a" * 64
    assert registry.pin_recorded(spec, digest).image == digest
    for moving in ("local/playbook-worker:latest", "local/playbook-worker:2", ""):
        with pytest.raises(ConfigError, match="not pinned by digest"):
            registry.pin_recorded(spec, moving)


def test_the_first_job_is_followed_to_its_end_when_runsync_returns_first(server):
    """/runsync answers IN_PROGRESS when a cold start outlasts its wait (a busy host): smoke_test follows /status
    until the job ends, never hands back a job half-way (05's first job on a loaded machine)."""
    from playbook.api.control import ControlClient
    from playbook.api.targets import Target
    from playbook.core.secrets import Secret
    from playbook.deploy import smoke_test

    url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    server.script = [(200, {"id": "j1", "status": "IN_PROGRESS"}, {}), (200, {"id": "j1", "status": "IN_PROGRESS"}, {}),
                     (200, {"id": "j1", "status": "COMPLETED", "delayTime": 190000, "executionTime": 500,
                            "output": {"images": []}}, {})]
    body = smoke_test(ControlClient(Target("local", url, url, Secret("k"))), "ep", {"input": {}}, timeout_s=1)
    assert body["status"] == "COMPLETED" and body["delayTime"] == 190000
    assert [(method, path.split("?")[0]) for method, path, _ in server.seen] == [
        ("POST", "/v2/ep/runsync"), ("GET", "/v2/ep/status/j1"), ("GET", "/v2/ep/status/j1")]
