"""A local platform running in another process (``playbook local up``, or the one ``playbook notebooks``
starts for a whole journey), seen through its HTTP API with the same monitoring calls as an in-process
``LocalPlatform``: ``list_workers``, ``timeline``, ``get_endpoint`` and ``billed_workers`` (the billing
ledger, per worker). Notebooks use it to watch, replay on and bill the endpoint an earlier notebook
deployed, without owning the platform."""

from __future__ import annotations

from types import SimpleNamespace

import requests

from playbook.core.config import Target
from playbook.core.errors import PlatformError
from playbook.local.platform import WorkerInfo
from playbook.local.runtime.billing import BilledWorker
from playbook.local.runtime.scaler import TimelineSample


class RemotePlatform:
    def __init__(self, target: Target):
        if target.name != "local":
            raise PlatformError("worker lists and timelines come from the local platform only; on RunPod use "
                                "GET /v2/serverless/{id}/workers and the endpoint's /health")
        self.target = target
        self.base = target.job_api_url.removesuffix("/v2")

    def _get(self, path: str, **params):
        reply = requests.get(f"{self.base}{path}", params=params, timeout=30,
                             headers={"Authorization": self.target.api_key.reveal()})
        if not reply.ok:
            raise PlatformError(f"local platform answered {reply.status_code} for {path}: {reply.text[:200]}")
        return reply.json()

    def list_workers(self, endpoint_id: str, include_exited: bool = False) -> list[WorkerInfo]:
        rows = self._get(f"/local/workers/{endpoint_id}", include_exited=int(include_exited))
        return [WorkerInfo(**row) for row in rows]

    def timeline(self, endpoint_id: str) -> list[TimelineSample]:
        return [TimelineSample(**row) for row in self._get(f"/local/timeline/{endpoint_id}")]

    def get_endpoint(self, endpoint_id: str) -> SimpleNamespace:
        """The endpoint's local configuration (``EndpointConfig``'s fields as attributes: workers_min,
        idle_timeout_s, scaler_type, ...), as ``playbook local status`` reads it."""
        for endpoint in self._get("/local/status")["endpoints"]:
            if endpoint["config"]["id"] == endpoint_id:
                return SimpleNamespace(**endpoint["config"])
        raise PlatformError(f"no endpoint {endpoint_id[:60]!r} on the local platform at {self.base}")

    def billed_workers(self, endpoint_id: str) -> list[BilledWorker]:
        """The endpoint's lines of the platform's billing ledger, one per worker ever started."""
        return [BilledWorker(**row) for row in self._get(f"/local/billing/{endpoint_id}")]
