"""A client for RunPod's REST API v2 (the control plane: endpoints, templates, volumes, catalog).

Why a client of our own: the runpod SDK's control helpers speak the GraphQL API that RunPod retires in
2027 and have no network-volume functions; REST v2 (``https://api.runpod.io/v2``, spec in
``shared/runpod/rest-v2-beta.openapi.json``) covers everything a deployment needs. The same client talks
to the local platform, which serves the same paths, so every caller has one code path.

How: ``ControlClient(target)`` sends JSON over one ``requests.Session`` with ``Authorization: Bearer
<key>``, a timeout on every call, and retries with exponential backoff on 429 (honouring Retry-After)
and on 5xx. A POST is retried only when the server cannot have acted on it (429, 502, 503), so a retry
never creates a second endpoint. Failures become ``ControlError`` built from RunPod's RFC 9457 problem
object, with what to do next (401: check RUNPOD_API_KEY; 400/422: which field was rejected and why).
Bodies are the spec's JSON shapes as plain dicts; list calls unwrap ``{"endpoints": [...]}`` and friends.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from playbook.config import Target
from playbook.errors import PlatformError

RETRY_STATUSES = {429, 500, 502, 503, 504}
POST_RETRY_STATUSES = {429, 502, 503}  # the server did not act on the request


class ControlError(PlatformError):
    """The control API refused or failed a request; ``status``, ``title``, ``detail``, ``errors`` come
    from the problem object."""

    def __init__(self, method: str, path: str, status: int, title: str = "", detail: str = "",
                 errors: list[str] | None = None, target: str = ""):
        self.method, self.path, self.status = method, path, status
        self.title, self.detail, self.errors = title, detail, list(errors or [])
        self.target = target
        super().__init__(self._message())

    def _message(self) -> str:
        what = f"{self.method} {self.path} on {self.target or 'the control API'} failed with {self.status}"
        reason = ": ".join(x for x in (self.title, self.detail) if x)
        lines = [f"{what}: {reason}" if reason else what]
        lines += [f"  - {e}" for e in self.errors]
        lines.append(hint(self.status, self.target))
        return "\n".join(x for x in lines if x)


def hint(status: int, target: str = "") -> str:
    """What to do next for an HTTP status, in one sentence."""
    if status == 401:
        if target == "local":
            return ("Fix: the local platform did not accept the key; restart it (`playbook local up`) so "
                    "its recorded key is current.")
        return ("Fix: check RUNPOD_API_KEY (environment or .env): it is missing, mistyped or revoked; "
                "create a key in the RunPod console under Settings > API Keys.")
    if status == 403:
        return "Fix: the API key lacks permission for this action; give the key read/write access."
    if status == 404:
        return "Fix: the resource does not exist (any more); run `playbook plan` to see what exists."
    if status in (400, 422):
        return "Fix: correct the field(s) named above in your deployment spec and run plan again."
    if status == 429:
        return "Fix: RunPod is rate limiting this key; wait a minute and retry."
    if status >= 500:
        return "Fix: the platform failed; retry later, and check https://uptime.runpod.io for RunPod."
    return ""


class ControlClient:
    """REST v2 over a ``Target``. Every method returns the spec's JSON (dicts) or None for 204."""

    def __init__(self, target: Target, timeout_s: float = 30.0, retries: int = 4,
                 backoff_s: float = 0.5, session: requests.Session | None = None):
        self.target = target
        self.base_url = target.control_api_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"ControlClient({self.target.name}: {self.base_url})"

    # -- transport ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        """Send one call with retries; return the decoded JSON body (None for 204)."""
        url = self.base_url + path
        retry_on = POST_RETRY_STATUSES if method == "POST" else RETRY_STATUSES
        headers = {"Authorization": f"Bearer {self.target.api_key.reveal()}", "Accept": "application/json"}
        for attempt in range(self.retries + 1):
            try:
                resp = self.session.request(method, url, json=json, params=params, headers=headers,
                                            timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if method != "POST" and attempt < self.retries:
                    time.sleep(self._delay(attempt))
                    continue
                raise PlatformError(
                    f"{method} {path}: cannot reach the {self.target.name} control API at {self.base_url} "
                    f"({type(exc).__name__}). Fix: " + (
                        "start the local platform with `playbook local up`." if self.target.name == "local"
                        else "check your network connection and https://uptime.runpod.io.")) from exc
            if resp.status_code in retry_on and attempt < self.retries:
                time.sleep(self._delay(attempt, resp.headers.get("Retry-After")))
                continue
            return self._decode(method, path, resp)
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 60.0)
            except ValueError:
                pass
        return self.backoff_s * (2 ** attempt)

    def _decode(self, method: str, path: str, resp: requests.Response) -> Any:
        if resp.status_code == 204 or not resp.content:
            if resp.ok:
                return None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.ok:
            return body
        problem = body if isinstance(body, dict) else {}
        raise ControlError(method, path, resp.status_code,
                           title=str(problem.get("title") or resp.reason or ""),
                           detail=str(problem.get("detail") or (resp.text[:300] if body is None else "")),
                           errors=[str(e) for e in problem.get("errors") or []],
                           target=self.target.name)

    def _list(self, path: str, key: str, params: dict | None = None) -> list[dict]:
        return self.request("GET", path, params=params)[key]

    # -- serverless endpoints ----------------------------------------------------------------------
    def list_endpoints(self) -> list[dict]:
        return self._list("/serverless", "endpoints")

    def get_endpoint(self, endpoint_id: str) -> dict:
        return self.request("GET", f"/serverless/{endpoint_id}")

    def create_endpoint(self, body: dict) -> dict:
        return self.request("POST", "/serverless", json=body)

    def update_endpoint(self, endpoint_id: str, changes: dict) -> dict:
        """PATCH: only the given fields change; image or env changes make a new release."""
        return self.request("PATCH", f"/serverless/{endpoint_id}", json=changes)

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
