"""The strict stand-in (`playbook local up --strict`) and the RunPod rules the local platform now follows by
default: releases replace idle stale workers, initializing is not billed, idle endpoints scale down after 3 and
7 days on a clock the test advances. Each rule's source is in playbook/local/runtime/rules.py and
docs/runpod-facts.md; the Docker parts (images pulled from the loopback registry, pull errors, crash loops,
a queued job that runs after a restart) are in tests/test_local_strict_docker.py."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
import requests
from local_support import endpoint, handler, wait_until

import playbook.local as local
from playbook.api.control import ControlClient
from playbook.core.errors import ConfigError
from playbook.local.runtime import rules
from playbook.local.runtime.endpoints import EndpointConfig
from playbook.local.supervision.runners import RefusedRunner, choose_runner

DAY_S = 24 * 3600


def test_strict_runs_no_substitute_process(tmp_path):
    # an endpoint without an image is refused at once, naming the field; a process-side fault is refused at start
    with (local.start(record=False, strict=True, data_file=tmp_path / "data.json", log_dir=tmp_path / "logs") as p,
          pytest.raises(ConfigError, match="^image: ")):
        p.create_endpoint(EndpointConfig(name="no-image"))
    crashing = EndpointConfig(image="127.0.0.1:5000/w:1", env={"PLAYBOOK_FAULT": "crash_loop"})
    runner = choose_runner(crashing, strict=True)
    assert isinstance(runner, RefusedRunner) and "never runs" in runner.reason
    log = tmp_path / "w.log"
    with pytest.raises(Exception, match="PLAYBOOK_FAULT=crash_loop"):
        runner.start("w1", crashing, {}, log)
    assert "\terror creating container: PLAYBOOK_FAULT=crash_loop" in (tmp_path / "w.log.system").read_text()
    assert choose_runner(EndpointConfig(name="plain")).name == "process"  # the lenient default is unchanged


def test_the_setting_makes_a_platform_strict(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_LOCAL_STRICT", "1")
    assert local.LocalPlatform(record=False, data_file=tmp_path / "d.json").strict is True
    monkeypatch.setenv("PLAYBOOK_LOCAL_STRICT", "0")
    lenient = local.LocalPlatform(record=False)
    assert lenient.strict is False and lenient.data_file is None  # the default keeps its state in memory


def test_finished_jobs_come_back_only_within_runpods_retention(platform):
    """/run results are kept 30 minutes, /runsync results 1 minute (docs/runpod-facts.md §1), downtime included."""
    import time as clock

    from playbook.local.runtime import persist

    now = clock.time()
    saved = {"endpoints": [{"config": EndpointConfig(name="r", id="retained").to_dict(), "jobs": [
        {"id": id_, "endpoint_id": "retained", "input": {}, "sync": sync, "status": "COMPLETED", "output": 1,
         "created": now - age_s - 1, "started": now - age_s - 1, "finished": now - age_s}
        for id_, sync, age_s in (("run-29m", False, 29 * 60), ("run-31m", False, 31 * 60),
                                 ("sync-50s", True, 50), ("sync-70s", True, 70))]}]}
    platform.call(persist.restore, platform, saved)
    jobs = local_jobs(platform, "retained")
    assert jobs.status("run-29m").status == "COMPLETED" and jobs.status("sync-50s").status == "COMPLETED"
    for gone in ("run-31m", "sync-70s"):
        assert requests.get(f"{platform.target.job_api_url}/retained/status/{gone}", timeout=10,
                            headers={"Authorization": platform.api_key}).status_code == 404


def test_crash_loop_back_off_doubles_up_to_its_cap():
    assert [rules.backoff_s(n) for n in range(0, 9)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]


@pytest.mark.slow
def test_idle_scale_down_follows_the_3_and_7_day_rule(platform):
    client = ControlClient(platform.target)
    cfg, jobs = endpoint(platform, workers_max=3)

    def max_workers():
        return client.get_endpoint(cfg.id)["workers"]["max"]

    platform.advance_clock(2.9 * DAY_S)
    assert max_workers() == 3
    platform.advance_clock(0.2 * DAY_S)  # 3.1 days without a request: at most 2
    wait_until(lambda: max_workers() == 2, timeout_s=15)
    platform.advance_clock(4 * DAY_S)  # 7.1 days: 0, and it stays there
    wait_until(lambda: max_workers() == 0, timeout_s=15)
    client.update_endpoint(cfg.id, {"workers": {"max": 3}})  # until the user raises it
    platform.advance_clock(2 * DAY_S)
    assert max_workers() == 3
    out = jobs.run_sync({"n": 1})  # a request restarts the count
    assert out.status == "COMPLETED", out
    platform.advance_clock(2.5 * DAY_S)
    assert max_workers() == 3


@pytest.mark.slow
def test_a_release_replaces_idle_stale_workers_and_lets_busy_ones_finish(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_min=1, workers_max=1, idle_timeout_s=30)
    wait_until(lambda: [w.state for w in platform.list_workers(cfg.id)] == ["idle"], timeout_s=60)
    old = platform.list_workers(cfg.id)[0]
    job_id = jobs.run({"sleep_s": 3.0})
    wait_until(lambda: platform.list_workers(cfg.id)[0].state == "running", timeout_s=20)
    platform.update_endpoint(cfg.id, env={"WORKER_PREFETCH": "1"})  # a new release
    views = requests.get(f"{platform.target.control_api_url}/serverless/{cfg.id}/workers", timeout=10,
                         headers={"Authorization": f"Bearer {platform.api_key}"}).json()["workers"]
    assert [(v["id"], v["isStale"]) for v in views] == [(old.id, True)]
    assert jobs.wait(job_id, timeout_s=60).status == "COMPLETED"  # the stale worker finished its job
    wait_until(lambda: any(w.id == old.id and w.state == "exited"
                           for w in platform.list_workers(cfg.id, include_exited=True)), timeout_s=30)
    gone = next(w for w in platform.list_workers(cfg.id, include_exited=True) if w.id == old.id)
    assert gone.stop_reason == "stale release 1: replaced by release 2" and gone.jobs_done == 1
    wait_until(lambda: [w.state for w in platform.list_workers(cfg.id)] == ["idle"], timeout_s=60)  # workers.min
    assert "stopping it now that it is idle" in Path(gone.log_path + ".system").read_text()
    platform.update_endpoint(cfg.id, workers_max=2)  # not a container field: no release, nobody is replaced
    new = platform.list_workers(cfg.id)[0]
    assert new.id != old.id
    time.sleep(2)
    assert [w.id for w in platform.list_workers(cfg.id)] == [new.id]


@pytest.mark.slow
def test_initializing_is_not_billed(platform):
    """A worker's bill starts when its process (container) has started, not when the platform decided to start
    it: the image pull and the container's creation are not billed (docs/runpod-facts.md §7)."""
    cfg, jobs = endpoint(platform)
    assert jobs.run_sync({"n": 1}).status == "COMPLETED"
    wait_until(lambda: platform.list_workers(cfg.id) == [], timeout_s=30)
    (worker,) = platform.list_workers(cfg.id, include_exited=True)
    (bill,) = platform.billed_workers(cfg.id)
    spawned_wall = platform.engine.wall(platform.engine.t0 + worker.spawned_t_s)
    assert bill.start_s > spawned_wall and bill.stop_s is not None
    assert bill.billed_s() >= 1


def _rest(p, method: str, path: str, **kwargs):
    r = requests.request(method, f"{p.target.control_api_url}{path}", timeout=10,
                         headers={"Authorization": f"Bearer {p.api_key}"}, **kwargs)
    r.raise_for_status()
    return r.json() if r.content else None


@pytest.mark.slow
def test_strict_state_survives_a_restart(tmp_path, monkeypatch):
    """Endpoints, templates, volumes, the bill, the key, the clock and the jobs come back after a restart:
    a queued job is still queued (and a cancelled one still answers /status within RunPod's retention)."""
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    data = tmp_path / "state" / "data.json"
    absent = "127.0.0.1:9/playbook-strict/never-pulled:1"  # no worker ever starts: the jobs stay queued
    with local.start(record=False, strict=True, data_file=data, log_dir=tmp_path / "logs") as first:
        cfg = first.create_endpoint(EndpointConfig(name="kept", image=absent, workers_max=0,
                                                   handler_path=handler("noop_handler")))
        volume = _rest(first, "POST", "/network-volumes", json={"name": "v", "size": 10, "dataCenter": "EU-RO-1"})
        template = _rest(first, "POST", "/templates", json={"name": "t", "image": absent})
        jobs = local_jobs(first, cfg.id)
        queued, cancelled = jobs.run({"n": 1}), jobs.run({"n": 2})
        jobs.cancel(cancelled)
        first.advance_clock(DAY_S)
        first.engine.ledger.open("w-old", cfg.id, "AMPERE_16", 0.001, 1_000.0)
        first.engine.ledger.close("w-old", 1_010.0)
        key = first.api_key
    assert stat.S_IMODE(data.stat().st_mode) == 0o600  # it holds the key
    with local.start(record=False, strict=True, data_file=data, log_dir=tmp_path / "logs") as second:
        assert second.api_key == key and second.clock.offset_s >= DAY_S
        assert second.get_endpoint(cfg.id).image == absent
        assert _rest(second, "GET", f"/network-volumes/{volume['id']}")["name"] == "v"
        assert _rest(second, "GET", f"/templates/{template['id']}")["name"] == "t"
        assert [b.billed_s() for b in second.billed_workers(cfg.id)] == [10]
        jobs = local_jobs(second, cfg.id)
        assert jobs.status(queued).status == "IN_QUEUE"
        assert jobs.status(cancelled).status == "CANCELLED"
        assert second.health(cfg.id)["jobs"]["inQueue"] == 1


def local_jobs(p, endpoint_id: str):
    from playbook.api.jobs import JobClient

    return JobClient(p.target, endpoint_id)


@pytest.mark.slow
def test_local_up_strict_keeps_its_endpoint_and_key_across_down_and_up(tmp_path, monkeypatch):
    import json
    import os
    import subprocess
    import sys

    from playbook.core.config import REPO_ROOT

    monkeypatch.setenv("PLAYBOOK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

    def playbook(*args):
        return subprocess.run([sys.executable, "-m", "playbook", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=60)

    refused = playbook("local", "up", "--strict")  # the demo endpoint has no image: said, with the fix
    assert refused.returncode != 0 and "--strict runs only images" in refused.stdout + refused.stderr
    image = "127.0.0.1:9/playbook-strict/never-pulled:1"
    try:
        up = playbook("local", "up", "--strict", "--image", image, "--workers-max", "0")
        assert up.returncode == 0 and "mode: strict" in up.stdout, up.stderr
        first = json.loads(playbook("local", "status", "--json").stdout)
        assert first["strict"] is True and [e["config"]["image"] for e in first["endpoints"]] == [image]
        key = json.loads((tmp_path / "state" / "local-platform.json").read_text())["api_key"]
        assert playbook("local", "down").returncode == 0
        assert playbook("local", "up", "--strict", "--image", image, "--workers-max", "0").returncode == 0
        second = json.loads(playbook("local", "status", "--json").stdout)
        assert [e["config"]["id"] for e in second["endpoints"]] == ["demo"]  # restored, not registered twice
        assert json.loads((tmp_path / "state" / "local-platform.json").read_text())["api_key"] == key
        plain = playbook("local", "down"), playbook("local", "up", "--endpoint", "")
        assert "mode: lenient default" in plain[1].stdout
    finally:
        playbook("local", "down")
