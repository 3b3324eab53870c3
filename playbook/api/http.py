"""The playbook's one HTTP layer: ``HttpClient`` sends JSON to a base URL with a bearer key, a timeout on
every call, method-aware retries and errors that say what to do. ``ControlClient`` (REST v2) and
``JobClient`` (the job API) are both built on it.

Retries: a GET (or PATCH/DELETE, which are idempotent in REST v2) is retried on 429 and 5xx and when the
connection fails; a POST only when the server cannot have acted on it: 429, 502, 503, or a refused
connection. The pause honours ``Retry-After`` (at most 60 s) and otherwise backs off exponentially with
full jitter. After the budget the answer becomes an ``HttpError`` subclass by status (``Unauthorized``,
``NotFound``, ``BadRequest``, ``RateLimited``, ``ServerError``, all ``PlatformError``) carrying ``status``
and ``body``; no answer at all becomes ``Unreachable``. The key never appears in a message.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from playbook.core.errors import Unreachable, http_error_class

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POST_RETRY_STATUSES = frozenset({429, 502, 503})  # the server did not act on the request
MAX_RETRY_AFTER_S = 60.0


def retry_delay(attempt: int, backoff_s: float, retry_after: str | None = None) -> float:
    """Seconds to pause before retry ``attempt`` (0-based): ``Retry-After`` when the server sent seconds,
    else a random pause up to ``backoff_s * 2**attempt`` (full jitter, so clients do not retry in step)."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass  # an HTTP date: fall back to backoff
    return random.uniform(0.5, 1.0) * backoff_s * (2 ** attempt)


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request cannot have reached the server (connection refused or not established)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class HttpClient:
    """JSON over HTTP to ``base_url`` for one target. One ``requests.Session`` per thread (sessions are not
    shared across threads), each with a connection pool."""

    def __init__(self, base_url: str, api_key: Any, *, target: str = "", timeout_s: float = 30.0,
                 retries: int = 4, backoff_s: float = 0.5, unreachable_hint: str = "", api: str = "",
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key  # a Secret (``reveal()``) or a string
        self.target = target
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.unreachable_hint = unreachable_hint
        self.api = api  # "control" or "job": picks the hint of an error answer
        self._shared_session = session
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if self._shared_session is not None:
            return self._shared_session
        if getattr(self._local, "session", None) is None:
            self._local.session = requests.Session()
        return self._local.session

    def _headers(self) -> dict:
        key = self._api_key.reveal() if hasattr(self._api_key, "reveal") else self._api_key
        return {"Authorization": f"Bearer {key or ''}", "Accept": "application/json"}

    def request(self, method: str, path: str, json: Any = None, params: dict | None = None,
                timeout_s: float | None = None) -> Any:
        """Send one call with retries; return the decoded JSON body (None for an empty success)."""
        method = method.upper()
        url = self.base_url + (path if path.startswith("/") else "/" + path)
        retry_on = POST_RETRY_STATUSES if method == "POST" else RETRY_STATUSES
        for attempt in range(self.retries + 1):
            try:
                resp = self.session.request(method, url, json=json, params=params, headers=self._headers(),
                                            timeout=timeout_s or self.timeout_s)
            except requests.RequestException as exc:
                # one quick retry: a platform that is not running is reported at once
                if (method != "POST" or _never_sent(exc)) and attempt < min(self.retries, 1):
                    time.sleep(retry_delay(attempt, self.backoff_s))
                    continue
                raise Unreachable(f"{method} {path}: cannot reach the {self.target or 'target'} platform at "
                                  f"{self.base_url} ({type(exc).__name__}). {self.unreachable_hint}".rstrip()
                                  ) from None
            if resp.status_code in retry_on and attempt < self.retries:
                time.sleep(retry_delay(attempt, self.backoff_s, resp.headers.get("Retry-After")))
                continue
            return self.decode(method, path, resp)
        raise AssertionError("unreachable")

    def decode(self, method: str, path: str, resp: requests.Response) -> Any:
        """The JSON body of an answer (None when empty), or the ``HttpError`` subclass for its status: also for
        answers read outside ``request`` (a streamed response)."""
        if resp.ok and (resp.status_code == 204 or not resp.content):
            return None
        try:
            body = resp.json()
        except ValueError:
            body = resp.text
        if resp.ok:
            return body
        raise http_error_class(resp.status_code)(method, path, resp.status_code, body, reason=resp.reason or "",
                                                 target=self.target, api=self.api)
