"""The workers view and worker logs of the local platform, validated against RunPod's REST v2 spec:
per-worker status (RUNNING/IDLE/INITIALIZING/THROTTLED/UNHEALTHY), the summary, stale workers, and the
logs as server-sent events (source, tail, since, Last-Event-ID resume with no duplicate)."""

from __future__ import annotations

import json

import requests
from local_support import endpoint, handler, wait_until
from openapi_contract import ContractRecorder, validate_exchange

from playbook.api.control import ControlClient, ControlError
from playbook.local import EndpointConfig
from playbook.monitor import worker_logs


def _client(plat):
    return ControlClient(plat.target, retries=0)


def _logs_response(plat, endpoint_id, worker_id, headers=None, **params):
    headers = {"Authorization": f"Bearer {plat.api_key}", **(headers or {})}
    url = f"{plat.target.control_api_url.rstrip('/')}/serverless/{endpoint_id}/workers/{worker_id}/logs"
    return requests.get(url, params=params, headers=headers, timeout=30)


def test_workers_view_and_logs_of_a_worker_that_served_and_stopped(platform):  # noqa: F811
    cfg, jobs = endpoint(platform, "noop_handler", idle_timeout_s=0.5)
    client = _client(platform)
    recorder = ContractRecorder(client)
    assert jobs.run_sync({"value": 1}, timeout_s=60).ok
    view = client.endpoint_workers(cfg.id)
    assert view["summary"]["total"] == len(view["workers"]) == 1
    worker = view["workers"][0]
    assert worker["status"] in ("IDLE", "RUNNING") and worker["isStale"] is False and worker["version"] == 1
    wid = worker["id"]
    wait_until(lambda: not platform.list_workers(cfg.id), timeout_s=30)  # scaled to zero: logs stay readable
    assert client.endpoint_workers(cfg.id)["summary"]["total"] == 0
    recorder.check()

    full = _logs_response(platform, cfg.id, wid, tail=5000)
    assert full.headers["Content-Type"].startswith("text/event-stream")
    assert not validate_exchange(full), validate_exchange(full)
    assert full.headers["Cache-Control"] == "no-cache" and full.headers["X-Accel-Buffering"] == "no"
    events = [e for e in full.text.split("\n\n") if e.startswith("id: ")]
    for event in events:  # the spec's event shape: an id line, then data {ts, source, line} with id == ts
        id_line, data_line = event.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert set(data) == {"ts", "source", "line"} and id_line == f"id: {data['ts']}"
    logs = worker_logs.read(client, cfg.id, wid, tail=5000)
    sources = {x.source for x in logs.lines}
    assert sources == {"container", "system"}, logs.text()
    assert any("exited with code" in x.line for x in logs.lines if x.source == "system")
    ids = [x.ts for x in logs.lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # Last-Event-ID resumes after that event: no duplicate, no gap
    cut = len(ids) // 2
    rest = worker_logs.read(client, cfg.id, wid, last_event_id=ids[cut - 1])
    assert [x.ts for x in rest.lines] == ids[cut:]
    # since is inclusive, tail counts from the end, source filters
    assert [x.ts for x in worker_logs.read(client, cfg.id, wid, since=ids[cut]).lines] == ids[cut:]
    assert [x.ts for x in worker_logs.read(client, cfg.id, wid, tail=2).lines] == ids[-2:]
    assert worker_logs.read(client, cfg.id, wid, tail=0).lines == ()
    container = worker_logs.read(client, cfg.id, wid, tail=5000, source="container").lines
    assert container and {x.source for x in container} == {"container"}


def test_logs_refusals_are_problems(platform):  # noqa: F811
    cfg, jobs = endpoint(platform, "noop_handler")
    client = _client(platform)
    recorder = ContractRecorder(client)
    refused = (({"tail": 6000}, "tail"), ({"source": "kernel"}, "source"), ({"since": "yesterday"}, "since"))
    for params, field in refused:
        try:
            worker_logs.read(client, cfg.id, "nope", **params)
        except ControlError as exc:
            assert exc.status == 400 and field in str(exc)
        else:
            raise AssertionError(f"{params} was accepted")
    try:
        worker_logs.read(client, cfg.id, "w999zzzz")
    except ControlError as exc:
        assert exc.status == 404 and "w999zzzz" in str(exc)
    else:
        raise AssertionError("an unknown worker was accepted")
    # the spec refuses these requests too, and the refusals are its problem objects
    assert [v for v in recorder.violations if ": response:" in v] == []
    assert len([v for v in recorder.violations if ": request:" in v]) == 3


def test_live_worker_logs_follow_new_lines(platform):  # noqa: F811
    cfg, jobs = endpoint(platform, "sleep_handler", workers_min=1)
    wait_until(lambda: any(w.state == "idle" for w in platform.list_workers(cfg.id)), timeout_s=60)
    client = _client(platform)
    wid = platform.list_workers(cfg.id)[0].id
    first = worker_logs.read(client, cfg.id, wid, tail=5000)
    assert first.lines
    jobs.run_sync({"sleep_s": 0.1}, timeout_s=60)
    later = worker_logs.read(client, cfg.id, wid, last_event_id=first.last_event_id, follow_s=1.0)
    assert all(x.ts > first.last_event_id for x in later.lines)


def test_throttled_and_stale_workers(platform):  # noqa: F811
    cfg = platform.create_endpoint(EndpointConfig(name="nostock", handler_path=handler("noop_handler"),
                                                  env={"PLAYBOOK_FAULT": "no_stock"}, workers_min=1))
    client = _client(platform)
    recorder = ContractRecorder(client)
    view = wait_until(lambda: (v := client.endpoint_workers(cfg.id))["workers"] and v)
    assert [w["status"] for w in view["workers"]] == ["THROTTLED"] and view["summary"]["throttled"] == 1
    assert view["workers"][0]["uptimeSeconds"] is None and view["workers"][0]["dataCenterId"] is None
    wid = view["workers"][0]["id"]
    recorder.check()
    live = _client(platform)  # the recorder reads a response to its end, and a live worker's stream has none
    wait_until(lambda: any("throttled" in x.line and x.source == "system"
                           for x in worker_logs.read(live, cfg.id, wid).lines))


def test_real_no_stock_throttles_until_stock_returns(platform):  # noqa: F811
    client = _client(platform)
    state = platform.control_state
    saved = dict(state.stock)
    for key in [k for k in state.stock if k[0] == "AMPERE_16"]:
        state.stock[key] = "NONE"  # the pool sells out everywhere
    try:
        ep = client.create_endpoint({"name": "sold-out", "type": "QUEUE", "image": "local/none:1",
                                     "gpu": {"pools": ["AMPERE_16"]}, "workers": {"min": 1, "max": 1},
                                     "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})
        view = wait_until(lambda: (v := client.endpoint_workers(ep["id"]))["workers"] and v)
        assert [w["status"] for w in view["workers"]] == ["THROTTLED"]
        throttled = view["workers"][0]["id"]
    finally:
        state.stock.update(saved)  # stock is back: the throttled worker goes, a real one is placed
    wait_until(lambda: throttled not in {w["id"] for w in client.endpoint_workers(ep["id"])["workers"]})
    assert all(w["status"] != "THROTTLED" for w in client.endpoint_workers(ep["id"])["workers"])
