"""`playbook local up|status|logs|down` run the platform as a background process; no worker outlives
it, whether it is stopped or killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from local_support import group_alive, handler, wait_until

from playbook.api.jobs import JobClient
from playbook.core.config import REPO_ROOT, resolve_target

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end


def playbook(*args, env, check=True):
    proc = subprocess.run([sys.executable, "-m", "playbook", *args], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    yield env
    playbook("local", "down", env=env, check=False)


def worker_pids(env) -> list[int]:
    status = json.loads(playbook("local", "status", "--json", env=env).stdout)
    return [w["pid"] for ep in status["endpoints"] for w in ep["workers"] if w["pid"]]


def test_up_status_logs_down(cli_env):
    up = playbook("local", "up", "--handler", str(handler("noop_handler")), "--workers-min", "1", env=cli_env)
    assert "local platform running at http://127.0.0.1:" in up.stdout
    again = playbook("local", "up", env=cli_env, check=False)
    assert again.returncode == 1 and "already running" in again.stderr
    jobs = JobClient(resolve_target("local"), "demo")  # found through the state file
    assert jobs.run_sync({"hello": 1}, timeout_s=30).output == {"echo": {"hello": 1}}
    assert "endpoint demo" in playbook("local", "status", env=cli_env).stdout
    assert "Starting Serverless Worker" in playbook("local", "logs", "--endpoint", "demo", env=cli_env).stdout
    pids = worker_pids(cli_env)
    assert pids
    assert "stopped the local platform" in playbook("local", "down", env=cli_env).stdout
    assert not any(group_alive(pid) for pid in pids)
    assert "no local platform" in playbook("local", "status", env=cli_env, check=False).stderr


def test_workers_die_with_a_killed_platform(cli_env):
    playbook("local", "up", "--handler", str(handler("noop_handler")), "--workers-min", "2", "--workers-max", "2",
             env=cli_env)
    pids = wait_until(lambda: (p := worker_pids(cli_env)) and len(p) == 2 and p, timeout_s=30)
    state = json.loads(Path(os.environ["PLAYBOOK_STATE_DIR"], "local-platform.json").read_text())
    os.kill(state["pid"], signal.SIGKILL)  # a crash: no chance to stop its workers
    wait_until(lambda: not any(group_alive(pid) for pid in pids), timeout_s=10)
