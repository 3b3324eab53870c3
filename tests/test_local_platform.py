"""The local platform's job API and worker protocol, driven by the real runpod worker loop running
small test handlers (tests/workers). The end-to-end tests with the demo model are in test_local_e2e."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests
from local_support import api, endpoint, group_alive, wait_until

from playbook.core.errors import JobError
from playbook.local.background.lifecycle import format_status

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end


def test_job_api_shapes_and_auth(platform):
    cfg, jobs = endpoint(platform)
    assert api(platform, cfg.id, "health", key="").status_code == 401
    assert api(platform, cfg.id, "health", key="wrong").status_code == 401
    assert api(platform, cfg.id, "health", key=f"Bearer {platform.api_key}").status_code == 200
    body = api(platform, cfg.id, "runsync", "POST", json={"input": {"a": 1}}).json()
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": {"a": 1}}
    assert isinstance(body["delayTime"], int) and isinstance(body["executionTime"], int)
    assert api(platform, cfg.id, f"status/{body['id']}").json()["output"] == {"echo": {"a": 1}}
    missing = api(platform, cfg.id, "status/nope")
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]
    assert "not found" in api(platform, "noendpoint", "health").json()["error"]
    bad = api(platform, cfg.id, "run", "POST", json={"prompt": "x"})
    assert bad.status_code == 400 and '"input"' in bad.json()["error"]


def test_payload_limits_are_runpods(platform):
    cfg, _ = endpoint(platform, workers_max=0)
    big = {"input": {"blob": "x" * (10 * 1024 * 1024 + 10)}}
    refused = api(platform, cfg.id, "run", "POST", json=big)
    assert refused.status_code == 413 and "10 MB limit of /run" in refused.json()["error"]
    queued = api(platform, cfg.id, "runsync?wait=1000", "POST", json=big)
    assert queued.status_code == 200 and queued.json()["status"] == "IN_QUEUE"  # /runsync takes 20 MB
    huge = {"input": {"blob": "x" * (20 * 1024 * 1024 + 10)}}
    assert "20 MB limit of /runsync" in api(platform, cfg.id, "runsync", "POST", json=huge).json()["error"]


def test_bad_input_fails_clearly_and_worker_serves_next(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=1)
    failed = jobs.run_sync({"fail": True})
    assert failed.status == "FAILED" and "input.fail was set" in failed.error
    ok = jobs.run_sync({"sleep_s": 0, "value": 7})
    assert ok.ok and ok.output["value"] == 7
    with pytest.raises(JobError, match="input.fail was set"):
        jobs.output(jobs.run({"fail": True}), timeout_s=30)
    assert jobs.retry(failed.id).status == "IN_QUEUE"  # /retry re-runs a FAILED job
    assert jobs.wait(failed.id, 30).status == "FAILED"
    health = jobs.health()
    assert (health.jobs_completed, health.jobs_failed) == (1, 3)


def test_cancel_queued_and_running_jobs(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=1)
    running = jobs.run({"sleep_s": 3})
    queued = jobs.run({"sleep_s": 0, "value": "never"})
    wait_until(lambda: jobs.status(running).status == "IN_PROGRESS")
    assert jobs.cancel(queued).status == "CANCELLED"
    assert jobs.cancel(running).status == "CANCELLED"
    # the async handler is stopped by the job-stop signal; the worker takes the next job, whose work
    # starts once the cancelled job's thread has let go of the (GPU) lock; the stale result is dropped
    after = jobs.run_sync({"sleep_s": 0, "value": 1}, timeout_s=30)
    assert after.ok and after.output["value"] == 1
    assert jobs.status(queued).status == "CANCELLED" and jobs.status(queued).output is None
    assert jobs.status(running).status == "CANCELLED"
    assert len(platform.list_workers(cfg.id, include_exited=True)) == 1  # the same worker survived


def test_stream_generator_chunks(platform):
    cfg, jobs = endpoint(platform, "stream_handler")
    job_id = jobs.run({"chunks": 4, "pause_s": 0.1})
    assert list(jobs.stream(job_id, timeout_s=30)) == [{"chunk": i} for i in range(4)]
    final = jobs.status(job_id)
    assert final.status == "COMPLETED" and final.output == [{"chunk": i} for i in range(4)]


def test_late_progress_update_never_reopens_a_job(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", idle_timeout_s=30)
    done = jobs.run_sync({"sleep_s": 0, "value": 3})
    worker = platform.list_workers(cfg.id)[0]
    url = f"{platform.url}/v2/{cfg.id}/job-done/{worker.id}/{done.id}?gpu=CPU&isStream=false"
    late = requests.post(url, data='{"status": "IN_PROGRESS", "output": "late"}',
                         headers={"Authorization": platform.worker_key}, timeout=10)
    assert late.status_code == 200
    requests.post(url, data='{"output": "second result"}', headers={"Authorization": platform.worker_key}, timeout=10)
    again = jobs.status(done.id)
    assert again.status == "COMPLETED" and again.output["value"] == 3


def test_progress_update_shows_while_running(platform):
    cfg, jobs = endpoint(platform, "sleep_handler")
    job_id = jobs.run({"sleep_s": 1.5, "progress": True, "value": 1})
    assert wait_until(lambda: jobs.status(job_id).output == "half way", timeout_s=20)
    assert jobs.wait(job_id, 30).output["value"] == 1


def test_execution_timeout_times_out_and_stops_worker(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", execution_timeout_ms=800)
    result = jobs.run_sync({"sleep_s": 30}, timeout_s=30)
    assert result.status == "TIMED_OUT" and "executionTimeout 800 ms" in result.error
    worker = platform.list_workers(cfg.id, include_exited=True)[0]
    assert worker.stop_reason == "execution timeout"
    wait_until(lambda: platform.list_workers(cfg.id, include_exited=True)[0].state == "exited")
    assert jobs.run_sync({"sleep_s": 0, "value": 2}, timeout_s=30).ok  # a fresh worker serves the next one


def test_killed_worker_job_is_retried(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=1)
    job_id = jobs.run({"sleep_s": 2, "value": "survivor"})
    wait_until(lambda: jobs.status(job_id).status == "IN_PROGRESS")
    first = platform.list_workers(cfg.id)[0]
    os.kill(first.pid, signal.SIGKILL)
    result = jobs.wait(job_id, 60)
    assert result.ok and result.output["value"] == "survivor" and result.worker_id != first.id
    assert jobs.health().jobs_retried == 1
    wait_until(lambda: not group_alive(first.pid))  # the SDK's heartbeat child went with it


def test_worker_dying_twice_fails_the_job_with_a_clear_message(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=1)
    result = jobs.run_sync({"crash": True}, timeout_s=60)
    assert result.status == "FAILED" and result.error.startswith("worker died")
    assert "retried once" in result.error and ".log" in result.error
    assert jobs.health().jobs_retried == 1


def test_workers_that_die_at_start_fail_queued_jobs(platform):
    cfg, jobs = endpoint(platform, "crash_at_start_handler", workers_max=1)
    result = jobs.run_sync({"x": 1}, timeout_s=60)
    assert result.status == "FAILED" and "keep exiting before taking a job" in result.error


def test_scale_from_zero_to_max_and_back_to_zero(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=3, scaler_type="REQUEST_COUNT",
                         scaler_value=1, idle_timeout_s=1)
    assert platform.list_workers(cfg.id) == []
    batch = jobs.run_batch([{"sleep_s": 1, "value": i} for i in range(6)], concurrency=6, progress=False)
    assert [r.output["value"] for r in batch.results] == list(range(6))
    wait_until(lambda: platform.list_workers(cfg.id) == [], timeout_s=20)
    samples = platform.timeline(cfg.id)
    assert max(s.workers for s in samples) == 3 and samples[-1].workers == 0
    peak = next(i for i, s in enumerate(samples) if s.workers == 3)
    assert samples[0].workers == 0 and all(s.workers <= 3 for s in samples[peak:])
    history = platform.list_workers(cfg.id, include_exited=True)
    assert all(w.cold_start_s and w.cold_start_s > 0 for w in history)
    assert {w.stop_reason for w in history} == {"idle timeout"}


def test_workers_min_stay_warm(platform):
    cfg, jobs = endpoint(platform, workers_min=1, workers_max=1, idle_timeout_s=0.2)
    wait_until(lambda: [w for w in platform.list_workers(cfg.id) if w.state == "idle"])
    time.sleep(1.0)
    assert len(platform.list_workers(cfg.id)) == 1


def test_purge_queue(platform):
    cfg, jobs = endpoint(platform, workers_max=0)
    ids = [jobs.run({"i": i}) for i in range(3)]
    assert jobs.health().jobs_in_queue == 3
    assert jobs.purge_queue() == 3
    assert {jobs.status(i).status for i in ids} == {"CANCELLED"}
    assert jobs.health().jobs_in_queue == 0


def test_wait_timeout_cancels_the_job(platform):
    cfg, jobs = endpoint(platform, workers_max=0)
    job_id = jobs.run({"i": 1})
    with pytest.raises(JobError, match="cancelled on the platform"):
        jobs.wait(job_id, timeout_s=0.3)
    assert jobs.status(job_id).status == "CANCELLED"


def test_no_worker_outlives_stop(tmp_path, monkeypatch):
    from local_support import endpoint as make

    import playbook.local as local

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    p = local.start(record=False, log_dir=tmp_path / "logs")
    cfg, jobs = make(p, "sleep_handler", workers_max=2, scaler_type="REQUEST_COUNT", scaler_value=1)
    ids = [jobs.run({"sleep_s": 30}) for _ in range(2)]
    wait_until(lambda: all(jobs.status(i).status == "IN_PROGRESS" for i in ids), timeout_s=30)
    pids = [w.pid for w in p.list_workers(cfg.id)]
    p.stop()
    assert not any(group_alive(pid) for pid in pids)


def test_route_provider_hook_and_endpoint_methods(tmp_path, monkeypatch):
    import playbook.local as local
    from playbook.core.errors import ConfigError
    from playbook.local.servers import app as server

    monkeypatch.setattr(server, "ROUTE_PROVIDERS", [*server.ROUTE_PROVIDERS, "local_support"])
    with local.start(record=False, log_dir=tmp_path) as p:
        made = requests.post(f"{p.url}/v2/test-provider/endpoints", timeout=10).json()
        assert made["workers_max"] == 1 and [e.id for e in p.list_endpoints()] == [made["id"]]
        with pytest.raises(ConfigError, match="workers_min .* exceeds workers_max"):
            p.update_endpoint(made["id"], workers_min=3)
        with pytest.raises(ConfigError, match="unknown endpoint field"):
            p.update_endpoint(made["id"], gpus=3)
        p.update_endpoint(made["id"], workers_min=1)
        pid = wait_until(lambda: p.list_workers(made["id"]) and p.list_workers(made["id"])[0].pid)
        p.delete_endpoint(made["id"])
        assert p.list_endpoints() == []
        wait_until(lambda: not group_alive(pid), timeout_s=10)
        with pytest.raises(ConfigError, match="no endpoint"):
            p.get_endpoint(made["id"])


def test_results_expire_like_runpods(platform, monkeypatch):
    from playbook.local.runtime import scaler

    cfg, jobs = endpoint(platform)
    sync_job = jobs.run_sync({"a": 1})
    async_job = jobs.wait(jobs.run({"a": 2}), 30)
    monkeypatch.setattr(scaler, "EXPIRE_EVERY_S", 0.1)
    monkeypatch.setattr(scaler, "RUNSYNC_RETENTION_S", 0.2)  # RunPod: 60 s for /runsync, 30 min for /run
    wait_until(lambda: api(platform, cfg.id, f"status/{sync_job.id}").status_code == 404, timeout_s=10)
    assert jobs.status(async_job.id).status == "COMPLETED"


def test_choose_runner_falls_back_to_a_process(monkeypatch):
    import importlib.util

    from playbook.local import EndpointConfig
    from playbook.local.supervision.runners import ProcessRunner, choose_runner

    assert isinstance(choose_runner(EndpointConfig(name="plain")), ProcessRunner)
    if importlib.util.find_spec("playbook.local.supervision.docker_runner") is None:  # before the build issue's runner
        assert isinstance(choose_runner(EndpointConfig(name="img", image="local/none:1")), ProcessRunner)


def test_local_workers_hold_no_user_secrets_and_ignore_runpod_credentials(platform, tmp_path, monkeypatch):
    """A developer with a real RunPod key (environment, ~/.runpod/config.toml) still gets a working local
    platform: the SDK would otherwise authenticate with config.toml's key and be refused, and the key
    itself never reaches a local worker."""
    home = tmp_path / "user-home"
    (home / ".runpod").mkdir(parents=True)
    (home / ".runpod" / "config.toml").write_text('[default]\napi_key = "rpa_REAL_USER_KEY"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_REAL_USER_KEY")
    cfg, jobs = endpoint(platform, "env_handler")
    result = jobs.run_sync({}, timeout_s=60)
    assert result.status == "COMPLETED"
    assert result.output == {"has_runpod_api_key": False, "has_runpod_credentials": False}


def test_workers_view_reports_the_last_heartbeat(platform):
    cfg, jobs = endpoint(platform, workers_min=1, workers_max=1, idle_timeout_s=30)
    pinged = wait_until(lambda: [w for w in platform.list_workers(cfg.id) if w.last_ping_age_s is not None],
                        timeout_s=60)
    assert 0 <= pinged[0].last_ping_age_s < 30
    assert "last ping" in format_status(platform.snapshot())
