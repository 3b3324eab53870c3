"""Every CLI command, given an expected failure (a dead platform, a bad spec, no Docker daemon, a wrong
key), prints one clear line on stderr (`error: ...` with what to do) and exits non-zero: no traceback."""

from __future__ import annotations

import json
import os
import socket

import pytest

from playbook import cli


def run_cli(capsys, *argv: str) -> str:
    rc = cli.main(list(argv))
    err = capsys.readouterr().err.strip()
    assert rc != 0, f"{argv} exited 0"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{argv} printed:\n{err}"
    assert "Traceback" not in err
    return lines[0]


def record_platform(state_dir, url: str, key: str) -> None:
    """A state file as `playbook local up` writes it, for a platform at ``url`` with ``key``. The pid is
    this test's own (alive), so the record counts as a running platform."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "local-platform.json").write_text(json.dumps({
        "pid": os.getpid(), "job_api_url": f"{url}/v2", "control_api_url": f"{url}/v2", "api_key": key,
        "log_dir": str(state_dir / "logs")}))


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    return tmp_path / "state"


def test_dead_platform(capsys, state_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing answers there
    record_platform(state_dir, f"http://127.0.0.1:{port}", "k")
    assert "cannot reach" in run_cli(capsys, "local", "status")
    for argv in (["plan"], ["apply"], ["destroy"], ["gpus", "--live"]):
        line = run_cli(capsys, *argv, "--target", "local")
        assert "local platform" in line and "playbook local down" in line, line


def test_no_platform(capsys, state_dir):
    assert "playbook local up" in run_cli(capsys, "local", "status")
    assert "RUNPOD_API_KEY" in run_cli(capsys, "plan", "--target", "runpod")


def test_bad_spec(capsys, state_dir, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[endpoint]\nname = "x"\nworkers = "many"\n')
    broken = tmp_path / "broken.yaml"
    broken.write_text("endpoint: [unclosed\n")
    for command in ("plan", "apply", "destroy"):
        assert "bad.toml" in run_cli(capsys, command, str(bad))
        assert "not valid YAML" in run_cli(capsys, command, str(broken))
        assert "does not exist" in run_cli(capsys, command, str(tmp_path / "missing.toml"))
    assert "catalog" in run_cli(capsys, "gpus", "--catalog", str(tmp_path / "missing.toml"))


def test_missing_docker_daemon(capsys, state_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    line = run_cli(capsys, "build")
    assert "no Docker daemon" in line and "scripts/services.sh" in line


def test_wrong_key(capsys, state_dir, platform):
    record_platform(state_dir, platform.url, "wrong-key")
    for argv in (["local", "status"], ["plan", "--target", "local"], ["gpus", "--live", "--target", "local"]):
        line = run_cli(capsys, *argv)
        assert "401" in line and "refused the API key" in line and "wrong-key" not in line, line
