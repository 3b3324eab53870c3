"""A local platform running in another process (``playbook local up``, or the one ``playbook notebooks``
starts for a whole journey), seen through its HTTP API with the same monitoring calls as an in-process
``LocalPlatform``: ``list_workers`` and ``timeline``. Notebooks use it to watch the endpoint an earlier
notebook deployed, without owning the platform."""

from __future__ import annotations

import requests

from playbook.config import Target
from playbook.errors import PlatformError
from playbook.local.platform import WorkerInfo
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
