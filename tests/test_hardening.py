"""Hardening (issue 14): the job envelope is checked whole before anything is queued, bodies of any shape get
400/413 and never 5xx, error messages quote at most a short excerpt, policy.ttl removes an expired job, and
one endpoint's failure never stalls another endpoint."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import pytest
from local_support import api, endpoint, wait_until

from playbook.core.excerpts import LIMIT, excerpt, listing
from playbook.local.runtime import scaler as scaler_module
from playbook.local.servers import job_envelope
from playbook.local.servers.job_envelope import Envelope, EnvelopeError
from playbook.local.servers.limits import MAX_DEPTH, BodyError, parse_json

ROOT = Path(__file__).resolve().parent.parent


# -- bounded error text ----------------------------------------------------------------------------------

def test_excerpts_are_short_whatever_the_input():
    assert excerpt("short") == "'short'"
    long = excerpt("x" * 100_000)
    assert len(long) < LIMIT + 40 and long.endswith("(100,000 characters)")
    many = excerpt({f"k{i}": i for i in range(10_000)})
    assert len(many) < LIMIT + 40 and many.endswith("(10,000 items)") and "'k0': 0" in many
    deep: list = []
    node = deep
    for _ in range(10_000):
        node.append([])
        node = node[0]
    assert excerpt(deep) == "[[[[...]]]]"
    assert excerpt(10 ** 5000) == "<integer of 16,610 bits>"  # repr() would raise ValueError past 4300 digits


def test_listing_counts_all_and_names_a_few():
    text = listing([f"field{i}" for i in range(10_000)], "unknown fields")
    assert text.startswith("10,000 unknown fields: 'field0', 'field1'") and text.endswith(", ...")
    assert len(text) < LIMIT + 60
    assert listing(["a", "b"], "unknown fields") == "2 unknown fields: 'a', 'b'"
    assert listing((x for x in "abc"), "names", count=3) == "3 names: 'a', 'b', 'c'"


def test_the_worker_carries_the_same_helper():
    # the worker image must not import playbook: its copies of the standard-library modules it shares with the
    # playbook are generated from playbook/core by `playbook contract --write`, never kept by hand
    from playbook.journey import contract

    for name in ("excerpts", "safetensors_header"):
        copy = ROOT / "worker" / "imagegen" / f"{name}.py"
        assert copy.read_text() == contract.worker_copy(name) and copy not in contract.drifted()


@pytest.fixture
def worker_schema():
    sys.path.insert(0, str(ROOT / "worker"))
    try:
        from imagegen import schema
        yield schema
    finally:
        sys.path.remove(str(ROOT / "worker"))


@pytest.mark.parametrize("bad", [
    {"prompt": "x" * 100_000},
    {f"unknown{i}": 1 for i in range(10_000)},
    {"prompt": ["x"] * 100_000},
    {"prompt": "x", "output_format": "g" * 100_000},
    {"prompt": "x", "width": "9" * 100_000},
])
def test_worker_errors_stay_small(worker_schema, bad):
    with pytest.raises(worker_schema.InputError) as info:
        worker_schema.parse_generate(bad)
    message = str(info.value)
    assert message.startswith("invalid input: ") and len(message) < 3 * LIMIT


def test_worker_counts_unknown_fields(worker_schema):
    with pytest.raises(worker_schema.InputError, match=r"10,000 unknown fields: 'unknown0', 'unknown1'"):
        worker_schema.parse_generate({f"unknown{i}": 1 for i in range(10_000)})


# -- the envelope ---------------------------------------------------------------------------------------

def test_a_full_envelope_is_accepted():
    env = job_envelope.check({"input": {"a": 1}, "webhook": "https://example.com/hook",
                              "policy": {"executionTimeout": 900_000, "lowPriority": False, "ttl": 3_600_000},
                              "s3Config": {"accessId": "id", "accessSecret": "s", "bucketName": "b",
                                           "endpointUrl": "https://s3.example.com"}})
    assert env == Envelope(input={"a": 1}, webhook="https://example.com/hook", execution_timeout_ms=900_000,
                           ttl_ms=3_600_000, low_priority=False, s3_config={
                               "accessId": "id", "accessSecret": "s", "bucketName": "b",
                               "endpointUrl": "https://s3.example.com"})
    assert job_envelope.check({"input": None}) == Envelope(input=None)


@pytest.mark.parametrize("body, field, words", [
    ([1], "body", "JSON object"),
    ({"prompt": "x"}, "input", "is required"),
    ({"input": {}, "polcy": {}}, "polcy", "1 unknown field: 'polcy'"),
    ({"input": {}, "policy": "fast"}, "policy", "must be an object"),
    ({"input": {}, "policy": {"executionTimeout": "abc"}}, "policy.executionTimeout", "number of milliseconds"),
    ({"input": {}, "policy": {"executionTimeout": True}}, "policy.executionTimeout", "number of milliseconds"),
    ({"input": {}, "policy": {"executionTimeout": 5000}}, "policy.executionTimeout", "more than 5,000 ms"),
    ({"input": {}, "policy": {"executionTimeout": -1}}, "policy.executionTimeout", "more than 5,000 ms"),
    ({"input": {}, "policy": {"executionTimeout": 6000.5}}, "policy.executionTimeout", "whole number"),
    ({"input": {}, "policy": {"executionTimeout": 10 ** 400}}, "policy.executionTimeout", "out of range"),
    ({"input": {}, "policy": {"ttl": 9_999}}, "policy.ttl", "at least 10,000 ms"),
    ({"input": {}, "policy": {"ttl": 8 * 86_400_000}}, "policy.ttl", "at most 604,800,000 ms"),
    ({"input": {}, "policy": {"lowPriority": "yes"}}, "policy.lowPriority", "true or false"),
    ({"input": {}, "policy": {"retries": 3}}, "policy.retries", "unknown field"),
    ({"input": {}, "webhook": 5}, "webhook", "URL string"),
    ({"input": {}, "webhook": "ftp://x"}, "webhook", "not an http(s) URL"),
    ({"input": {}, "webhook": "https://" + "a" * 5000}, "webhook", "at most 2,048"),
    ({"input": {}, "s3Config": "bucket"}, "s3Config", "must be an object"),
    ({"input": {}, "s3Config": {"accessId": "id"}}, "s3Config.accessSecret", "is required"),
])
def test_each_bad_field_is_named(body, field, words):
    with pytest.raises(EnvelopeError) as info:
        job_envelope.check(body)
    assert info.value.field == field and words in str(info.value)
    assert len(str(info.value)) < 3 * LIMIT


def test_s3_credentials_are_never_quoted():
    with pytest.raises(EnvelopeError) as info:
        job_envelope.check({"input": {}, "s3Config": {"accessId": "user_SECRET", "accessSecret": 12,
                                                      "bucketName": "b", "endpointUrl": "u"}})
    assert "SECRET" not in str(info.value) and "12" not in str(info.value)


def test_thousands_of_unknown_fields_give_one_short_line():
    body = {"input": {}, **{f"x{i}": 1 for i in range(10_000)}}
    with pytest.raises(EnvelopeError, match="10,000 unknown fields: 'x0', 'x1'") as info:
        job_envelope.check(body)
    assert len(str(info.value)) < 3 * LIMIT


# -- size and depth -------------------------------------------------------------------------------------

def test_depth_and_size_limits():
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, 1000, "body") is not None
    with pytest.raises(BodyError) as deep:
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 1000, "body")
    assert deep.value.status == 400 and "deeper than 64" in deep.value.message
    with pytest.raises(BodyError) as recursion:  # json.loads itself raises RecursionError here
        parse_json(b"[" * 200_000 + b"]" * 200_000, 10**6, "body")
    assert recursion.value.status == 400
    with pytest.raises(BodyError) as large:
        parse_json(b"[1]" * 100, 10, "/run")
    assert large.value.status == 413
    with pytest.raises(BodyError) as broken:
        parse_json(b'{"input": ', 100, "/run")
    assert broken.value.status == 400 and "not valid JSON" in broken.value.message
    with pytest.raises(BodyError, match="NaN is not a JSON number"):
        parse_json(b'{"input": {"x": NaN}}', 100, "/run")
    # brackets inside strings do not count
    assert parse_json(b'{"input": "' + b"[" * 1000 + b'"}', 10_000, "body")["input"] == "[" * 1000


# -- on the platform ----------------------------------------------------------------------------------------

def test_the_job_api_refuses_bad_envelopes_before_the_queue(platform):
    cfg, jobs = endpoint(platform, workers_max=0)
    for body, field in [({"input": {}, "policy": {"executionTimeout": "abc"}}, "policy.executionTimeout"),
                        ({"input": {}, "policy": []}, "policy"),
                        ({"input": {}, "policy": {"executionTimeout": 100}}, "policy.executionTimeout")]:
        for path in ("run", "runsync?wait=1000"):
            answer = api(platform, cfg.id, path, "POST", json=body)
            assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
    deep = "[" * 100_000 + "]" * 100_000
    answer = api(platform, cfg.id, "run", "POST", data='{"input": ' + deep + "}")
    assert answer.status_code == 400 and "deeper than" in answer.json()["error"]
    assert api(platform, cfg.id, "run", "POST", data=b"\xff\xfe").status_code == 400
    assert jobs.health().jobs_in_queue == 0  # nothing refused reached the queue


def test_control_api_bodies_get_400_or_413_never_500(platform):
    import requests

    url = platform.target.control_api_url + "/serverless"
    headers = {"Authorization": f"Bearer {platform.api_key}"}
    deep = requests.post(url, headers=headers, data="[" * 100_000 + "]" * 100_000, timeout=30)
    assert deep.status_code == 400 and "deeper" in deep.json()["detail"]
    big = requests.post(url, headers=headers, json={"name": "x" * (2 * 1024 * 1024)}, timeout=30)
    assert big.status_code == 413 and big.json()["title"] == "Content Too Large"
    many = requests.post(url, headers=headers, json={f"f{i}": 1 for i in range(10_000)}, timeout=30)
    assert many.status_code == 422 and len(many.json()["errors"]) <= 21 and len(many.text) < 5000


def test_ttl_removes_an_expired_job(platform):
    cfg, jobs = endpoint(platform, workers_max=0)  # no worker: the job stays queued
    ep = platform.engine.endpoints[cfg.id]
    # the envelope allows ttl >= 10 s (RunPod's minimum); the engine is driven directly with 0.3 s
    job = platform.call(lambda: platform.engine.submit(ep, Envelope(input={}, ttl_ms=300), sync=False))
    assert api(platform, cfg.id, f"status/{job.id}").json()["status"] == "IN_QUEUE"
    wait_until(lambda: api(platform, cfg.id, f"status/{job.id}").status_code == 404, timeout_s=10)
    assert job.status == "TIMED_OUT" and "ttl" in job.error
    assert jobs.health().jobs_in_queue == 0


def test_ttl_on_a_running_job_stops_the_job_not_the_worker(platform):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=1)
    assert jobs.run_sync({"sleep_s": 0, "value": 1}).ok  # a warm worker
    worker_id = platform.list_workers(cfg.id)[0].id
    ep = platform.engine.endpoints[cfg.id]
    job = platform.call(lambda: platform.engine.submit(ep, Envelope(input={"sleep_s": 4}, ttl_ms=1500),
                                                       sync=False))
    wait_until(lambda: api(platform, cfg.id, f"status/{job.id}").status_code == 404, timeout_s=15)
    after = jobs.run_sync({"sleep_s": 0, "value": 2})
    assert after.ok and after.output["value"] == 2
    assert [w.id for w in platform.list_workers(cfg.id)] == [worker_id]  # the same worker served it


# -- containment ------------------------------------------------------------------------------------------

def test_one_endpoints_fault_never_stalls_another(platform, monkeypatch, caplog):
    faulty, faulty_jobs = endpoint(platform, workers_max=1, name="noop_handler")
    before, before_jobs = endpoint(platform, workers_max=1)
    after, after_jobs = endpoint(platform, workers_max=1)
    baseline = before_jobs.run_sync({"n": 1})  # a cold start, with every endpoint healthy
    assert baseline.ok

    scale = platform.scaler.scale

    def broken(ep, now):
        if ep.cfg.id == faulty.id:
            raise RuntimeError("injected fault")
        return scale(ep, now)

    monkeypatch.setattr(platform.scaler, "scale", broken)
    monkeypatch.setattr(scaler_module, "FAIL_QUEUE_AFTER_S", 2.0)
    stuck = faulty_jobs.run({"n": 0})
    with caplog.at_level(logging.ERROR, logger="playbook.local"):
        time.sleep(0.5)  # the faulty endpoint's tick now fails 10 times a second
        t0 = time.monotonic()
        result = after_jobs.run_sync({"n": 2})  # needs the scaler: a cold start from zero workers
        elapsed_s = time.monotonic() - t0
    assert result.ok and result.output == {"echo": {"n": 2}}
    # the same cold start as before the fault, give or take the machine's noise
    assert result.delay_ms <= 2 * baseline.delay_ms + 3000, (result.delay_ms, baseline.delay_ms, elapsed_s)
    failures = [r for r in caplog.records if "tick failed for endpoint" in r.getMessage()]
    assert failures and all(faulty.id in r.getMessage() for r in failures)
    assert len(failures) <= 2  # logged once per endpoint per 10 s, not 10 times a second
    # the faulty endpoint's own job still ends: failed with the reason once the fault has lasted
    ended = faulty_jobs.wait(stuck, 30)
    assert ended.status == "FAILED" and "cannot schedule endpoint" in ended.error and "injected fault" in ended.error


# -- the target switch ------------------------------------------------------------------------------------

def test_playbook_target_local_wins_over_a_key(monkeypatch):
    from playbook.core.config import target_name
    from playbook.core.errors import ConfigError

    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_test_key")
    monkeypatch.delenv("PLAYBOOK_TARGET", raising=False)
    assert target_name() == "runpod" and target_name("local") == "local"
    monkeypatch.setenv("PLAYBOOK_TARGET", "local")
    assert target_name() == target_name("auto") == "local"
    assert target_name("runpod") == "runpod"  # an explicit argument still wins
    from playbook.journey import state as journey

    assert journey.target_name() == "local"  # what 04 records its image under agrees with what 05 connects to
    monkeypatch.setenv("PLAYBOOK_TARGET", "cloud")
    with pytest.raises(ConfigError, match="PLAYBOOK_TARGET"):
        target_name()


def test_notebooks_command_passes_target_to_the_kernels(monkeypatch):
    import argparse

    from playbook.cli import notebooks as cli
    from playbook.journey import notebooks

    seen = {}

    def run_all(paths, out_dir=None, parameters=None):  # what a kernel started now would inherit
        seen["target"] = os.environ.get("PLAYBOOK_TARGET")
        return []

    monkeypatch.setattr(notebooks, "select", lambda names: [])
    monkeypatch.setattr(notebooks, "run_all", run_all)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["notebooks", "--target", "local"])
    monkeypatch.setenv("PLAYBOOK_TARGET", "")  # restored by monkeypatch after the test
    args.func(args)
    assert seen["target"] == "local"


def test_a_result_too_deep_fails_its_job_and_the_worker_serves_the_next(platform):
    cfg, jobs = endpoint(platform, workers_max=1)
    deepest = {}
    for _ in range(MAX_DEPTH - 2):  # a body 64 deep: allowed; the echo {"output": {"echo": ...}} is 65 deep
        deepest = [deepest]
    failed = jobs.run_sync(deepest)
    assert failed.status == "FAILED" and "the worker's result was refused" in failed.error
    assert "deeper than 64" in failed.error
    worker_ids = [w.id for w in platform.list_workers(cfg.id)]
    ok = jobs.run_sync({"n": 1})
    assert ok.ok and [w.id for w in platform.list_workers(cfg.id)] == worker_ids


def test_servers_quote_input_only_through_the_helper():
    # a bare !r of user input in an error message is unbounded: the platform's servers use excerpt()/listing()
    servers = ROOT / "playbook" / "local" / "servers"
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in servers.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if "!r}" in line]
    assert offenders == [], offenders


def test_s3_config_reaches_the_worker_and_never_a_response(platform):
    cfg, _ = endpoint(platform, "job_keys_handler", workers_max=1)
    s3 = {"accessId": "user_abc", "accessSecret": "rps_TOPSECRET", "bucketName": "weights",
          "endpointUrl": "https://s3api-eu-ro-1.runpod.io"}
    answer = api(platform, cfg.id, "runsync", "POST", json={"input": {}, "s3Config": s3})
    body = answer.json()
    assert body["status"] == "COMPLETED", body
    assert "s3Config" in body["output"]["keys"] and body["output"]["bucket"] == "weights"
    assert body["output"]["has_secret"] is True
    assert "TOPSECRET" not in answer.text and "TOPSECRET" not in api(platform, cfg.id, f"status/{body['id']}").text


def test_a_failure_filing_one_result_fails_that_job_only(platform, monkeypatch):
    cfg, jobs = endpoint(platform, workers_max=1)
    assert jobs.run_sync({"n": 0}).ok
    worker_ids = [w.id for w in platform.list_workers(cfg.id)]
    result = platform.engine.result

    def poisoned(ep, worker, job_id, payload):
        if "poison" in json.dumps(payload):
            raise RuntimeError("injected fault while filing a result")
        return result(ep, worker, job_id, payload)

    monkeypatch.setattr(platform.engine, "result", poisoned)
    failed = jobs.run_sync({"poison": True})
    assert failed.status == "FAILED" and "could not file this job's result (RuntimeError)" in failed.error
    ok = jobs.run_sync({"n": 1})
    assert ok.ok and [w.id for w in platform.list_workers(cfg.id)] == worker_ids
