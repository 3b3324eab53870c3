"""A client for RunPod's REST API v2 (the control plane: endpoints, templates, volumes, catalog).

Why a client of our own: the runpod SDK's control helpers speak the GraphQL API that RunPod retires in
2027 and have no network-volume functions; REST v2 (``https://api.runpod.io/v2``, spec in
``docs/runpod/rest-v2-beta.openapi.json``) covers everything a deployment needs. The same client talks
to the local platform, which serves the same paths, so every caller has one code path.

How: ``ControlClient(target)`` sends JSON through ``playbook.api.http.HttpClient`` (bearer key, a timeout on
every call, retries with jittered backoff on 429 honouring Retry-After and on 5xx; a POST only when the
server cannot have acted on it, so a retry never creates a second endpoint). Failures become
``HttpError`` subclasses (``ControlError`` is its old name) built from RunPod's RFC 9457 problem object,
with what to do next (401: check RUNPOD_API_KEY; 400/422: which field was rejected and why).
Bodies are the spec's JSON shapes as plain dicts; list calls unwrap ``{"endpoints": [...]}`` and friends.
"""

from __future__ import annotations

from typing import Any

import requests

from playbook.api import endpoint_model
from playbook.api.http import HttpClient
from playbook.core.config import Target
from playbook.core.errors import HttpError

ControlError = HttpError  # the name callers and tests know; every HTTP error answer is an HttpError


class ControlClient:
    """REST v2 over a ``Target``. Every method returns the spec's JSON (dicts) or None for 204."""

    def __init__(self, target: Target, timeout_s: float = 30.0, retries: int = 4,
                 backoff_s: float = 0.5, session: requests.Session | None = None):
        self.target = target
        self.base_url = target.control_api_url.rstrip("/")
        self.http = HttpClient(
            self.base_url, target.api_key, target=target.name, timeout_s=timeout_s, retries=retries,
            backoff_s=backoff_s, session=session or requests.Session(), api="control",
            unreachable_hint="Fix: " + ("start the local platform with `playbook local up`." if target.name == "local"
                                        else "check your network connection and https://uptime.runpod.io."))

    # the transport's knobs, as attributes of the client (targets.connect tunes them)
    retries = property(lambda self: self.http.retries, lambda self, v: setattr(self.http, "retries", v))
    timeout_s = property(lambda self: self.http.timeout_s, lambda self, v: setattr(self.http, "timeout_s", v))
    session = property(lambda self: self.http.session)

    def __repr__(self) -> str:
        return f"ControlClient({self.target.name}: {self.base_url})"

    def request(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        """Send one call with retries (``playbook.api.http``); return the decoded JSON body (None for 204)."""
        return self.http.request(method, path, json=json, params=params)

    def _list(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        return self.request("GET", path, params=params)[key]

    # -- serverless endpoints ----------------------------------------------------------------------
    def list_endpoints(self) -> list[dict]:
        return self._list("/serverless", "endpoints")

    def get_endpoint(self, endpoint_id: str) -> dict:
        return self.request("GET", f"/serverless/{endpoint_id}")

    def create_endpoint(self, body: dict) -> dict:
        """POST a ``CreateEndpointRequest``, checked first (a field RunPod would refuse is named here)."""
        return self.request("POST", "/serverless", json=endpoint_model.check(body, endpoint_model.EndpointCreate))

    def update_endpoint(self, endpoint_id: str, changes: dict) -> dict:
        """PATCH: only the given fields change; image or env changes make a new release."""
        return self.request("PATCH", f"/serverless/{endpoint_id}",
                            json=endpoint_model.check(changes, endpoint_model.EndpointUpdate))

    def delete_endpoint(self, endpoint_id: str) -> None:
        self.request("DELETE", f"/serverless/{endpoint_id}")

    def endpoint_workers(self, endpoint_id: str) -> dict:
        """``{workers: [...], summary: {running, idle, ...}, endpointVersion}``."""
        return self.request("GET", f"/serverless/{endpoint_id}/workers")

    def endpoint_releases(self, endpoint_id: str) -> dict:
        """``{endpointVersion, rollout: {...}, releases: [{id, version, diff, ...}]}``."""
        return self.request("GET", f"/serverless/{endpoint_id}/releases")

    # -- templates ---------------------------------------------------------------------------------
    def list_templates(self) -> list[dict]:
        return self._list("/templates", "templates")

    def get_template(self, template_id: str) -> dict:
        return self.request("GET", f"/templates/{template_id}")

    def create_template(self, body: dict) -> dict:
        return self.request("POST", "/templates", json=body)

    def update_template(self, template_id: str, changes: dict) -> dict:
        """Note: endpoints copied this template at create time; editing it does not change them."""
        return self.request("PATCH", f"/templates/{template_id}", json=changes)

    def delete_template(self, template_id: str) -> None:
        self.request("DELETE", f"/templates/{template_id}")

    # -- network volumes ---------------------------------------------------------------------------
    def list_network_volumes(self) -> list[dict]:
        return self._list("/network-volumes", "networkVolumes")

    def get_network_volume(self, volume_id: str) -> dict:
        return self.request("GET", f"/network-volumes/{volume_id}")

    def create_network_volume(self, body: dict) -> dict:
        return self.request("POST", "/network-volumes", json=body)

    def update_network_volume(self, volume_id: str, changes: dict) -> dict:
        """Rename or grow (volumes never shrink)."""
        return self.request("PATCH", f"/network-volumes/{volume_id}", json=changes)

    def delete_network_volume(self, volume_id: str) -> None:
        self.request("DELETE", f"/network-volumes/{volume_id}")

    # -- container registry credentials ------------------------------------------------------------
    def list_registries(self) -> list[dict]:
        return self._list("/registries", "registries")

    def get_registry(self, registry_id: str) -> dict:
        return self.request("GET", f"/registries/{registry_id}")

    def create_registry(self, name: str, username: str, password) -> dict:
        """``password`` may be a ``Secret``; it is sent once and never returned."""
        secret = password.reveal() if hasattr(password, "reveal") else password
        return self.request("POST", "/registries", json={"name": name, "username": username,
                                                          "password": secret})

    def delete_registry(self, registry_id: str) -> None:
        self.request("DELETE", f"/registries/{registry_id}")

    # -- catalog -----------------------------------------------------------------------------------
    def gpus(self, availability: bool = True, product: str = "SERVERLESS") -> list[dict]:
        """GPU types with their serverless ``pool``; with ``availability`` also stock per data center
        and CUDA versions (``include=AVAILABILITY`` requires ``product``)."""
        params = {"include": "AVAILABILITY", "product": product} if availability else None
        return self._list("/catalog/gpus", "gpus", params=params)

    def datacenters(self, gpu_availability: bool = False) -> list[dict]:
        params = {"include": "GPU_AVAILABILITY"} if gpu_availability else None
        return self._list("/catalog/datacenters", "dataCenters", params=params)
