"""The playbook's errors, all of them. Each message says what went wrong and what to do next; the CLI
prints it as one line, without a traceback.

    PlaybookError
      ConfigError        a setting, spec field or parameter is missing or invalid
      PlatformError      the target platform (local or RunPod) refused or failed a request
        Unreachable        no answer at all (platform not running, network down)
        HttpError          an HTTP answer with an error status; carries ``status`` and ``body``
          BadRequest         400, 413, 422 and other 4xx: the request itself is wrong
          Unauthorized       401, 403: the API key
          NotFound           404
          RateLimited        429
          ServerError        5xx
      BuildError         an image could not be built, checked or pushed
      JobError           a job failed, timed out or was cancelled; carries ``job_id`` and ``status``
        JobTimeout         the client stopped waiting (the job's own state is in ``status``)
      WaitTimeout        a condition awaited by ``playbook.core.waiting.wait_for`` did not come true in time
"""

from __future__ import annotations

from typing import Any

from playbook.core.excerpts import clip


class PlaybookError(Exception):
    """Base of every error the playbook raises on purpose."""


class ConfigError(PlaybookError):
    """A setting, spec field or parameter is missing or invalid."""


class PlatformError(PlaybookError):
    """The target platform (local or RunPod) refused or failed a request."""


class Unreachable(PlatformError):
    """The platform did not answer (connection refused, DNS, timeout)."""


class HttpError(PlatformError):
    """An HTTP error answer. ``status`` and ``body`` (decoded JSON, or text) are kept; ``title``,
    ``detail`` and ``errors`` come from an RFC 9457 problem object (REST v2) or the job API's
    ``{"error": ...}``."""

    def __init__(self, method: str, path: str, status: int, body: Any = None, *, reason: str = "",
                 target: str = "", api: str = ""):
        self.method, self.path, self.status, self.body, self.target = method, path, status, body, target
        self.api = api
        problem = body if isinstance(body, dict) else {}
        self.title = str(problem.get("title") or reason or "")
        detail = problem.get("detail") or problem.get("error") or (body if isinstance(body, str) else "")
        self.detail = clip(detail, 300) if detail else ""
        self.errors = [str(e) for e in problem.get("errors") or []]
        super().__init__(self._message())

    def _message(self) -> str:
        what = f"{self.method} {self.path} on {self.target or 'the platform'} failed with {self.status}"
        reason = ": ".join(x for x in (self.title, self.detail) if x)
        lines = [f"{what}: {reason}" if reason else what]
        lines += [f"  - {e}" for e in self.errors]
        lines.append(hint(self.status, self.target, self.api))
        return "\n".join(x for x in lines if x)


class BadRequest(HttpError):
    """400, 413, 422 or another 4xx: the request is wrong; the message names the field."""


class Unauthorized(HttpError):
    """401 or 403: the API key is missing, wrong or lacks permission."""


class NotFound(HttpError):
    """404: the endpoint, job or resource does not exist (any more)."""


class RateLimited(HttpError):
    """429 after the retry budget."""


class ServerError(HttpError):
    """5xx after the retry budget (or at once for a POST that may have acted)."""


def http_error_class(status: int) -> type[HttpError]:
    if status in (401, 403):
        return Unauthorized
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return BadRequest


def hint(status: int, target: str = "", api: str = "") -> str:
    """What to do next for an HTTP status, in one sentence; ``api`` is "control" (REST v2, driven by a
    deployment spec) or "job" (the job API, driven by a job's input)."""
    if status == 401:
        if target == "local":
            return ("Fix: the local platform refused the API key; restart it (`playbook local up`) so "
                    "its recorded key is current.")
        return ("Fix: the platform refused the API key; check RUNPOD_API_KEY (environment or .env): it is "
                "missing, mistyped or revoked; create a key in the RunPod console under Settings > API Keys.")
    if status == 403:
        return "Fix: the API key lacks permission for this action; give the key read/write access."
    if status == 404:
        return "Fix: the resource does not exist (any more); run `playbook plan` to see what exists."
    if status in (400, 413, 422):
        if api == "control":
            return "Fix: correct the field(s) named above in your deployment spec and run plan again."
        return "Fix: correct the request as the message above says and send it again."
    if status == 429:
        return "Fix: RunPod is rate limiting this key; wait a minute and retry."
    if status >= 500:
        return "Fix: the platform failed; retry later, and check https://uptime.runpod.io for RunPod."
    return ""


class BuildError(PlaybookError):
    """An image could not be built, checked or pushed."""


class JobError(PlaybookError):
    """A job failed, timed out or was cancelled. ``job_id`` and ``status`` (RunPod's job state as last
    seen, e.g. FAILED) say which job and how it ended."""

    def __init__(self, message: str, job_id: str = "", status: str = ""):
        super().__init__(message)
        self.job_id, self.status = job_id, status


class JobTimeout(JobError):
    """The client stopped waiting for a job; ``status`` is the job's real state on the platform
    (CANCELLED only if the platform cancelled it)."""


class WaitTimeout(PlaybookError, TimeoutError):
    """A condition did not come true in time (``playbook.core.waiting.wait_for``)."""
