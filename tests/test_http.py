"""playbook.api.http, the one HTTP layer under ControlClient and JobClient: method-aware retries, Retry-After,
jittered backoff, and error answers mapped to PlatformError subclasses carrying status and body.
Served over real HTTP on loopback by the scripted server of conftest.py."""

from __future__ import annotations

import socket
import time

import pytest

from playbook.api.http import HttpClient, retry_delay
from playbook.core import errors


def client_for(server, **kw) -> HttpClient:
    kw.setdefault("backoff_s", 0.01)
    return HttpClient(f"http://127.0.0.1:{server.server_address[1]}/v2", "k", target="runpod", **kw)


def test_backoff_is_jittered_and_retry_after_wins():
    delays = {retry_delay(3, 1.0) for _ in range(50)}
    assert all(4.0 <= d <= 8.0 for d in delays) and len(delays) > 1  # full jitter in [half, whole] of 2**3
    assert retry_delay(0, 1.0, "2") == 2.0
    assert retry_delay(0, 1.0, "3600") == 60.0  # capped
    assert 0.5 <= retry_delay(0, 1.0, "Wed, 21 Oct 2015 07:28:00 GMT") <= 1.0  # a date: fall back to backoff


def test_retry_after_is_honoured(server):
    server.script = [(429, {"error": "slow down"}, {"Retry-After": "0.4"}), (200, {"ok": True}, {})]
    start = time.monotonic()
    assert client_for(server).request("GET", "/x") == {"ok": True}
    assert time.monotonic() - start >= 0.4 and len(server.seen) == 2


@pytest.mark.parametrize("status, cls", [(400, errors.BadRequest), (413, errors.BadRequest),
                                         (401, errors.Unauthorized), (403, errors.Unauthorized),
                                         (404, errors.NotFound), (429, errors.RateLimited),
                                         (500, errors.ServerError), (503, errors.ServerError)])
def test_error_answers_become_platform_errors_with_status_and_body(server, status, cls):
    body = {"error": f"answer {status}"}
    server.script = [(status, body, {})] * 3
    with pytest.raises(cls) as err:
        client_for(server, retries=2).request("POST", "/v2/thing", json={"a": 1})
    assert isinstance(err.value, errors.PlatformError) and err.value.status == status and err.value.body == body
    assert f"answer {status}" in str(err.value) and "Fix:" in str(err.value)
    # POST: retried only where the server cannot have acted (429, 502, 503)
    assert len(server.seen) == (3 if status in (429, 502, 503) else 1)


def test_get_is_retried_on_5xx_until_the_budget(server):
    server.script = [(500, {"error": "boom"}, {})] * 3
    with pytest.raises(errors.ServerError):
        client_for(server, retries=2).request("GET", "/v2/thing")
    assert len(server.seen) == 3


def test_non_json_error_body_is_kept_as_text(server):
    server.script = [(404, None, {})]
    with pytest.raises(errors.NotFound) as err:
        client_for(server).request("GET", "/nothing")
    assert err.value.status == 404 and err.value.body == ""


def test_no_answer_is_unreachable_quickly_and_names_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = HttpClient(f"http://127.0.0.1:{port}", "secret-key", target="local", retries=4, backoff_s=0.01,
                        unreachable_hint="Fix: start it.")
    start = time.monotonic()
    with pytest.raises(errors.Unreachable, match="cannot reach the local platform .* Fix: start it") as err:
        client.request("POST", "/run", json={})
    assert time.monotonic() - start < 5 and "secret-key" not in str(err.value)
