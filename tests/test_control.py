"""ControlClient transport: retries with backoff on 429 (honouring Retry-After) and 5xx, no retried POST
after a 500 (it may have acted), problem objects turned into errors that say what to do, and a clear
message when the control API cannot be reached. Served over real HTTP on loopback."""

from __future__ import annotations

import pytest

from playbook.api.control import ControlClient, ControlError
from playbook.core.config import Target
from playbook.core.errors import PlatformError
from playbook.core.secrets import Secret


def client_for(server, name="runpod", **kw) -> ControlClient:
    url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    return ControlClient(Target(name, url, url, Secret("rp_test_key")), backoff_s=0.01, **kw)


def test_retries_429_and_5xx_then_succeeds(server):
    server.script = [(429, {"title": "Too Many Requests", "status": 429, "detail": "slow down"}, {"Retry-After": "0"}),
                     (503, {"title": "Service Unavailable", "status": 503, "detail": "busy"}, {}),
                     (200, {"endpoints": []}, {})]
    assert client_for(server).list_endpoints() == []
    assert [s[:2] for s in server.seen] == [("GET", "/v2/serverless")] * 3
    assert server.seen[0][2] == "Bearer rp_test_key"


def test_gives_up_after_the_retry_budget(server):
    server.script = [(502, {"title": "Bad Gateway", "status": 502, "detail": "upstream"}, {})] * 3
    with pytest.raises(ControlError) as err:
        client_for(server, retries=2).get_endpoint("ep1")
    assert err.value.status == 502 and len(server.seen) == 3 and "retry later" in str(err.value)


def test_post_is_not_retried_after_a_500(server):
    server.script = [(500, {"title": "Internal Server Error", "status": 500, "detail": "oops"}, {})]
    with pytest.raises(ControlError):
        client_for(server).create_network_volume({"name": "v", "size": 10, "dataCenter": "EU-RO-1"})
    assert len(server.seen) == 1  # a retry could create a second volume


def test_problem_objects_become_actionable_errors(server):
    server.script = [(422, {"title": "Unprocessable Entity", "status": 422, "detail": "invalid body",
                            "errors": ["gpu.pools: 'RTX_4090' is not a pool id"]}, {}),
                     (401, {"title": "Unauthorized", "status": 401, "detail": "invalid api key"}, {}),
                     (204, None, {})]
    client = client_for(server)
    with pytest.raises(ControlError) as err:
        client.update_endpoint("ep1", {"gpu": {"pools": ["RTX_4090"]}})
    text = str(err.value)
    assert "PATCH /serverless/ep1" in text and "gpu.pools: 'RTX_4090' is not a pool id" in text
    assert err.value.errors == ["gpu.pools: 'RTX_4090' is not a pool id"]
    with pytest.raises(ControlError, match="check RUNPOD_API_KEY") as err:
        client.list_templates()
    assert "rp_test_key" not in str(err.value)
    assert client.delete_endpoint("ep1") is None


def test_unreachable_control_api_says_how_to_fix(server):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    url = f"http://127.0.0.1:{port}/v2"
    client = ControlClient(Target("local", url, url, Secret("k")), retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(PlatformError, match="playbook local up"):
        client.list_network_volumes()
