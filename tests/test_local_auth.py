"""The local platform's one auth middleware (playbook.local.servers.auth): each path family needs its key."""

from __future__ import annotations

import pytest
import requests

from playbook.local.servers.auth import needed_key


@pytest.mark.parametrize("path, key", [
    ("/v2/serverless", "control"), ("/v2/serverless/ep1/workers", "control"), ("/v2/catalog/gpus", "control"),
    ("/v2/ep1/run", "user"), ("/v2/ep1/runsync", "user"), ("/v2/ep1/status/j1", "user"),
    ("/v2/ep1/purge-queue", "user"), ("/local/status", "user"), ("/v2/ep1/job-take/w1", "worker"),
    ("/v2/ep1/job-done/w1/j1", "worker"), ("/v2/ep1/ping/w1", "worker"), ("/v2/test-provider/endpoints", None),
])
def test_each_path_family_needs_its_key(path, key):
    assert needed_key(path) == key


def test_keys_are_checked_on_every_family(platform):
    base, user, worker = platform.url, platform.api_key, platform.worker_key
    cases = [("GET", "/v2/serverless", f"Bearer {user}", 200), ("GET", "/v2/serverless", user, 401),
             ("GET", "/v2/nosuch/health", user, 404), ("GET", "/v2/nosuch/health", f"Bearer {user}", 404),
             ("GET", "/v2/nosuch/health", worker, 401), ("GET", "/local/status", user, 200),
             ("GET", "/local/status", "wrong", 401), ("GET", "/v2/nosuch/ping/w1", user, 401),
             ("GET", "/v2/nosuch/ping/w1", worker, None)]  # None: past auth, the handler answers
    for method, path, key, status in cases:
        resp = requests.request(method, base + path, headers={"Authorization": key}, timeout=10)
        assert resp.status_code == status if status else resp.status_code != 401, (method, path, resp.text)
        if status == 401 and path.startswith("/v2/serverless"):
            assert resp.json()["status"] == 401  # a problem object, as RunPod's REST API answers
