"""What the doctor sees, gathered once per diagnosis: the ``Observation`` every rule reads.

Why one record: each rule (``playbook.doctor.checks``) is a small function of what was observed, so it
can be unit-tested on observations recorded from real runs (tests/data/doctor/*.json) without a
platform, and a diagnosis costs the same few API calls whichever rule decides. Everything comes through
RunPod's own APIs: the endpoint's settings (read fresh: a PATCH shows at once), its templates, the
workers view, one worker's log, the job's status, the catalog's stock for the endpoint's pools.

Evidence helpers live here too, so every rule names the cause the same way: the decisive log line whole
(not an excerpt that stops before the file name), how old it is ("worker w1 40 s ago"), and paths as the
worker sees them (/runpod-volume/..., when the local platform said where it mounted the volume).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playbook.core.config import VOLUME_MOUNT

MOUNT_LINE = re.compile(r"mounted at " + re.escape(VOLUME_MOUNT) + r" \(local folder (\S+?)\)")
EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
TIMING = "PLAYBOOK_TIMING"  # the local platform's cold-start marks: not a worker's words
LINE_CAP = 400  # a decisive line is shown whole up to this many characters


@dataclass
class Observation:
    """One diagnosis' worth of facts (JSON-friendly: recorded runs replay through the rules)."""

    subject: str
    endpoint: dict  # the REST v2 endpoint, read fresh
    workers: list[dict] = field(default_factory=list)  # the workers view
    endpoint_version: int | None = None
    job: dict | None = None  # id, status, error, delay_ms, execution_ms, worker_id, output
    log_worker: str | None = None  # whose log was read
    log: list[dict] = field(default_factory=list)  # {"ts", "source", "line"}
    stock: dict = field(default_factory=dict)  # pool -> {data center: stock level} (the catalog)
    templates: list[dict] = field(default_factory=list)  # serverless templates of the account
    now: float = 0.0  # epoch seconds when gathered
    memory: dict = field(default_factory=dict)  # what earlier polls saw: seen, turnover, earlier, progressed
    limits: dict = field(default_factory=dict)  # hung_after_s, slow_delay_s

    # -- JSON --------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> Observation:
        return cls(**{k: v for k, v in json.loads(text).items() if not k.startswith("_")})  # "_label": a test's

    @classmethod
    def load(cls, path: Path) -> Observation:
        return cls.from_json(Path(path).read_text())

    # -- reading it --------------------------------------------------------------------------------
    @property
    def endpoint_id(self) -> str:
        return self.endpoint.get("id", "?")

    @property
    def settings_workers(self) -> dict:
        return self.endpoint.get("workers") or {}

    @property
    def job_status(self) -> str | None:
        return (self.job or {}).get("status")

    @property
    def job_error(self) -> str:
        """The job's error; the runpod SDK's JSON error (error_type, error_message, error_traceback) as its
        decisive line, ``OutOfMemoryError: CUDA out of memory ...`` (the traceback names the worker's paths)."""
        return sdk_error((self.job or {}).get("error"))

    def texts(self) -> list[tuple[str, dict | None]]:
        """The job's error (if any) then each log line's message, with the log line it came from."""
        out: list[tuple[str, dict | None]] = [(self.job_error, None)] if self.job_error else []
        return out + [(message(x["line"]), x) for x in self.log]

    def last_words(self) -> dict | None:
        """The worker's last meaningful log line (not the platform's timing marks)."""
        return next((x for x in reversed(self.log) if TIMING not in x["line"]), None)

    def age(self, ts: str | None) -> str:
        """'40 s ago' for a log line's time (relative to when this was observed)."""
        if not ts or not self.now:
            return "at an unknown time"
        from playbook.monitor.worker_logs import epoch_s

        seconds = max(0.0, self.now - epoch_s(ts))
        return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"

    def as_worker_sees(self, text: str) -> str:
        """Host paths of the volume's local folder rewritten to /runpod-volume (the worker's view)."""
        for x in self.log:
            m = MOUNT_LINE.search(x["line"])
            if m and m.group(1) in text:
                text = text.replace(m.group(1).rstrip("/"), VOLUME_MOUNT)
        return text

    def quote(self, line: dict | None, text: str | None = None) -> str:
        """A decisive line, whole (up to LINE_CAP), with whose log and how old; ``line`` None: the job error."""
        if text is None:
            text = self.job_error if line is None else message(line["line"])
        text = self.as_worker_sees(" ".join(str(text).split()))
        text = text if len(text) <= LINE_CAP else text[:LINE_CAP - 3] + "..."
        if line is None:
            return f"job {(self.job or {}).get('id')} error: {text}"
        return f"worker {self.log_worker} {self.age(line.get('ts'))} [{line.get('source')}]: {text}"

    def find(self, pattern: re.Pattern) -> list[tuple[str, dict | None]]:
        return [(t, x) for t, x in self.texts() if pattern.search(t)]

    def exception(self) -> tuple[str, dict | None] | None:
        """The last exception line ('ValueError: WORKER_DTYPE must be ...') in the log or the job error."""
        for text, line in reversed(self.texts()):
            for part in reversed(text.splitlines() or [text]):
                m = EXCEPTION_LINE.match(part)
                if m and m.group(1) and m.group(1)[0].isupper():
                    return part.strip(), line
        return None

    def workers_line(self) -> str:
        statuses = ", ".join(f"{w['id']} {w['status']}{' (stale)' if w.get('isStale') else ''}"
                             for w in self.workers)
        return f"workers view: {statuses or 'no active workers'} (endpoint version {self.endpoint_version})"

    def job_line(self) -> str | None:
        if not self.job:
            return None
        j = self.job
        parts = [f"job {j.get('id')}: {j.get('status')}"]
        if j.get("delay_ms") is not None:
            parts.append(f"waited {j['delay_ms'] / 1000:.1f} s")
        if j.get("execution_ms") is not None:
            parts.append(f"ran {j['execution_ms'] / 1000:.1f} s")
        if j.get("worker_id"):
            parts.append(f"worker {j['worker_id']}")
        return ", ".join(parts)

    def head(self) -> list[str]:
        """The first evidence lines of every verdict: the job and the workers view."""
        return [x for x in (self.job_line(), self.workers_line()) if x]


SDK_ERROR_TYPE = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")


def sdk_error(error) -> str:
    """A job error as text: the runpod SDK's ``{"error_type": "<class '...OutOfMemoryError'>", "error_message":
    ..., "error_traceback": ...}`` becomes ``OutOfMemoryError: <message>``; anything else is kept as it is."""
    text = str(error or "")
    if text.startswith("{") and '"error_message"' in text:
        try:
            data = json.loads(text)
        except ValueError:
            return text
        if isinstance(data, dict) and isinstance(data.get("error_message"), str):
            kind = SDK_ERROR_TYPE.search(str(data.get("error_type") or ""))
            return f"{kind.group(1)}: {data['error_message']}" if kind else data["error_message"]
    return text


def message(line: str) -> str:
    """A log line's message: the runpod SDK logs JSON ({"message": ..., "level": ...}); others are text."""
    if line.startswith("{") and '"message"' in line:
        try:
            data = json.loads(line)
        except ValueError:
            return line
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return data["message"]
    return line


def job_dict(result) -> dict:
    return {"id": result.id, "status": result.status, "error": result.error, "delay_ms": result.delay_ms,
            "execution_ms": result.execution_ms, "worker_id": result.worker_id,
            "output": result.output if isinstance(result.output, (dict, list, str, int, float, type(None)))
            else repr(result.output)}


def stock_of(catalog: list[dict], pools: list[str]) -> dict:
    """pool -> {data center: availability} from GET /v2/catalog/gpus?include=AVAILABILITY; a pool the
    catalog lists nowhere is {} (no stock in any data center)."""
    out = {}
    for pool in pools:
        gpu = next((g for g in catalog if g.get("pool") == pool), None)
        out[pool] = {d.get("id"): d.get("availability") for d in (gpu or {}).get("dataCenters") or []}
    return out


def now() -> float:
    return time.time()
