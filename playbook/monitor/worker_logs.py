"""Reading a worker's logs over REST v2: ``GET /v2/serverless/{id}/workers/{workerId}/logs`` (SSE).

Why a module: the logs are the authority on why a worker does not serve, and the doctor, the monitor
and the notebooks all read them the same way, from RunPod or the local platform. The stream never ends
while the worker lives, so ``read`` stops at the first of: the end of the stream, the local platform's
``: backfill complete`` comment (when ``follow_s`` is 0), ``follow_s`` seconds of following, or
``idle_s`` seconds without a byte (RunPod sends no such comment).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import requests

from playbook.api.control import ControlClient, ControlError
from playbook.core.html import table

BACKFILL_DONE = ": backfill complete"


@dataclass(frozen=True)
class LogLine:
    ts: str  # RFC 3339, also the SSE event id (Last-Event-ID)
    source: str  # container | system
    line: str


@dataclass(frozen=True)
class WorkerLogs:
    worker_id: str
    lines: tuple[LogLine, ...]

    @property
    def last_event_id(self) -> str | None:
        return self.lines[-1].ts if self.lines else None

    def text(self) -> str:
        return "\n".join(f"{x.ts} [{x.source}] {x.line}" for x in self.lines)

    def _repr_html_(self) -> str:
        return table([[x.ts, x.source, x.line[:300]] for x in self.lines], header=["ts", "source", "line"])


def epoch_s(ts: str) -> float:
    """An RFC 3339 time (a log event's ``ts``) as epoch seconds."""
    from datetime import UTC, datetime

    value = ts.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_events(lines) -> tuple[list[LogLine], bool]:
    """SSE text lines -> log lines; also whether the backfill-complete comment was seen (then stop)."""
    out, data, done = [], [], False
    for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if line.startswith(":"):
            done = done or line.strip() == BACKFILL_DONE
            if done:
                break
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            event = json.loads("\n".join(data))
            out.append(LogLine(event.get("ts", ""), event.get("source", ""), event.get("line", "")))
            data = []
    return out, done


def read(client: ControlClient, endpoint_id: str, worker_id: str, tail: int | None = None,
         since: str | None = None, last_event_id: str | None = None, source: str | None = None,
         follow_s: float = 0.0, idle_s: float = 2.0) -> WorkerLogs:
    """The worker's log lines (backfill, and ``follow_s`` seconds of new lines)."""
    params = {k: v for k, v in (("tail", tail), ("since", since), ("source", source)) if v is not None}
    headers = {"Authorization": f"Bearer {client.target.api_key.reveal()}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    path = f"/serverless/{endpoint_id}/workers/{worker_id}/logs"
    lines: list[LogLine] = []
    deadline = time.monotonic() + follow_s
    try:
        with client.session.get(client.base_url + path, params=params, headers=headers, stream=True,
                                timeout=(client.timeout_s, idle_s)) as resp:
            if not resp.ok:
                client.http.decode("GET", path, resp)  # raises the problem as an HttpError
            pending: list[str] = []
            for raw in resp.iter_lines(chunk_size=1, decode_unicode=False):
                pending.append(raw.decode("utf-8", "replace"))
                if raw:
                    continue
                got, done = parse_events(pending)
                lines += got
                pending = []
                if (done and follow_s <= 0) or (follow_s > 0 and time.monotonic() >= deadline):
                    break
            lines += parse_events([*pending, ""])[0]
    except (requests.ConnectionError, requests.Timeout):
        pass  # idle for idle_s, or the stream closed: what came so far is the answer
    except ControlError:
        raise
    return WorkerLogs(worker_id, tuple(lines))
