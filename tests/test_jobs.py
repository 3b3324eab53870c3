"""playbook.api.jobs: the same client code against the local platform and against RunPod's own
`--rp_serve_api` test server (which executes /runsync only); typed results; errors that say what to do."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests
from local_support import endpoint, handler

from playbook.api.jobs import BatchResult, Health, JobClient, JobResult
from playbook.core.config import Target
from playbook.core.errors import JobError, JobTimeout, PlatformError
from playbook.core.secrets import Secret


def runsync_roundtrip(jobs: JobClient) -> JobResult:
    """The client code under test: identical for both servers."""
    result = jobs.run_sync({"prompt": "same code", "n": 2}, timeout_s=60)
    assert result.status == "COMPLETED", result.error
    assert result.output == {"echo": {"prompt": "same code", "n": 2}}
    return result


@pytest.fixture
def rp_serve_api(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "rp_serve_api.log", "wb")  # noqa: SIM115 (the server's log for the whole test)
    proc = subprocess.Popen([sys.executable, str(handler("noop_handler")), "--rp_serve_api", "--rp_api_host",
                             "127.0.0.1", "--rp_api_port", str(port), "--rp_log_level", "WARN"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/docs", timeout=1)
            break
        except requests.ConnectionError:
            assert proc.poll() is None, (tmp_path / "rp_serve_api.log").read_text()
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_same_client_code_on_local_platform_and_rp_serve_api(platform, rp_serve_api):
    _, local_jobs = endpoint(platform)
    on_local = runsync_roundtrip(local_jobs)
    assert on_local.delay_ms is not None and on_local.execution_ms is not None  # RunPod's timing fields
    # --rp_serve_api has no /v2/{endpoint_id} prefix: an empty endpoint id addresses its root
    on_sdk = runsync_roundtrip(JobClient(Target("rp_serve_api", rp_serve_api, rp_serve_api, Secret("unused")), ""))
    assert on_sdk.latency_s is not None and on_local.latency_s is not None


def test_typed_results_and_batch(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=2)
    batch = jobs.run_batch([{"sleep_s": 0, "value": i} for i in range(4)], concurrency=2, progress=False)
    assert isinstance(batch, BatchResult) and batch.counts == {"COMPLETED": 4}
    assert [r.output["value"] for r in batch.results] == [0, 1, 2, 3]
    assert all(isinstance(r.delay_ms, int) and r.latency_s > 0 for r in batch.results)
    assert "jobs/s" in batch._repr_html_() and len(batch.rows()) == 4
    health = jobs.health()
    assert isinstance(health, Health) and health.jobs_completed == 4 and "jobs_completed" in health._repr_html_()
    waited = jobs.wait(jobs.run({"sleep_s": 0.5, "value": "<b>"}), 30)
    assert waited.states_seen[0] in ("IN_QUEUE", "IN_PROGRESS") and waited.states_seen[-1] == "COMPLETED"
    assert len(set(waited.states_seen)) == len(waited.states_seen)  # each state once, in order


def test_errors_say_what_to_do(platform):
    cfg, _ = endpoint(platform)
    wrong_key = Target("local", platform.target.job_api_url, platform.target.control_api_url, Secret("nope"))
    with pytest.raises(PlatformError, match="refused the API key"):
        JobClient(wrong_key, cfg.id).health()
    with pytest.raises(PlatformError, match="endpoint nosuch not found"):
        JobClient(platform.target, "nosuch").run({"x": 1})
    with pytest.raises(PlatformError, match="does not exist"):
        JobClient(platform.target, cfg.id).status("no-such-job")


def test_empty_input_is_sent_once():
    """runpod.Endpoint.run wraps {"input": {}} twice; our request body is exactly {"input": {}}."""
    assert JobClient._body({}) == {"input": {}}
    assert JobClient._body({"a": 1}, execution_timeout_ms=500) == {"input": {"a": 1},
                                                                   "policy": {"executionTimeout": 500}}


def test_unreachable_platform_is_a_clear_error():
    dead = Target("local", "http://127.0.0.1:9/v2", "http://127.0.0.1:9/v2", Secret("k"))
    with pytest.raises(PlatformError, match="cannot reach"):
        JobClient(dead, "ep", request_timeout_s=2).health()


def test_runpod_sdk_endpoint_works_against_the_local_platform(platform, monkeypatch):
    """The runpod SDK's own public client (base URL set through its module attribute) speaks to the local
    platform unchanged: run_sync, run + status/output, health."""
    import runpod

    cfg, _ = endpoint(platform, "sleep_handler")
    monkeypatch.setattr(runpod, "endpoint_url_base", platform.target.job_api_url.rstrip("/"))
    sdk = runpod.Endpoint(cfg.id, api_key=platform.target.api_key.reveal())
    assert sdk.run_sync({"sleep_s": 0, "value": "sync"}, timeout=60)["value"] == "sync"
    job = sdk.run({"sleep_s": 0.2, "value": "async"})
    assert job.output(timeout=60)["value"] == "async" and job.status() == "COMPLETED"
    assert sdk.health()["jobs"]["completed"] == 2


def test_timeout_reports_the_real_state_and_job_errors_carry_id_and_status(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=0)
    job_id = jobs.run({"sleep_s": 0})
    with pytest.raises(JobTimeout) as err:
        jobs.wait(job_id, timeout_s=0.2, cancel_on_timeout=False)
    assert err.value.job_id == job_id and err.value.status == "IN_QUEUE"  # not a made-up CANCELLED
    assert jobs.status(job_id).status == "IN_QUEUE"
    with pytest.raises(JobError) as err:
        JobResult("j1", "FAILED", error="boom").raise_for_status()
    assert (err.value.job_id, err.value.status) == ("j1", "FAILED") and "boom" in str(err.value)
    jobs.cancel(job_id)


def test_wait_polls_sparsely_before_the_expected_finish_and_tightly_near_it():
    jobs = JobClient(Target("local", "http://127.0.0.1:9/v2", "http://127.0.0.1:9/v2", Secret("k")), "ep")
    assert jobs._pacer(time.perf_counter())() == pytest.approx(0.03, abs=0.005)  # no history: tight at once
    assert jobs._pacer(time.perf_counter() - 1.0)() == pytest.approx(0.1)  # long overdue: every 100 ms
    jobs._recent_s.extend([10.0, 10.0, 10.0])
    assert jobs._pacer(time.perf_counter())() == pytest.approx(0.5)  # 10 s to go: at most every 0.5 s
    assert jobs._pacer(time.perf_counter() - 9.8)() == pytest.approx(0.1, abs=0.005)  # 0.2 s to go: half of it
    assert jobs._pacer(time.perf_counter() - 10.0)() == pytest.approx(0.03, abs=0.005)  # due now: tight
