"""Worker logs as RunPod serves them: events ``{source: container|system, line, ts}`` per worker.

Why: on RunPod the logs are the authority on why a worker does not serve (a crash-looping worker may
still read RUNNING); the doctor and the notebooks read them through ``GET
/v2/serverless/{id}/workers/{workerId}/logs``. Locally a worker's stdout and stderr go to its log file
(``Worker.log_path``): those lines are the ``container`` source. ``system`` lines are what the platform
itself says about the worker (placed, throttled, image pull, exited, marked unhealthy): the runners and
fault handles append them to a sidecar file ``<worker>.log.system`` as ``<epoch s>\\t<line>``, and the
platform adds exit and health lines when it sees them.

How time works: the platform reads a worker's log file when its logs are asked for, and stamps the lines
it has not seen with the file's last write time (exact for the newest line, an upper bound for older
ones); system lines carry their own time. Every event's ``ts`` is unique and increasing per
worker (bumped by a microsecond on a tie) and is also its SSE id, so ``Last-Event-ID`` resumes with no
duplicate and no gap. Cold-start timing marks (``worker/imagegen/timing.py``) carry their own clock in
the line, so reading lazily does not blur them.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

SOURCES = ("container", "system")
MAX_TAIL = 5000
DEFAULT_TAIL = 100


TIMING_PREFIX = "PLAYBOOK_TIMING"  # as worker/imagegen/timing.py prints it


def timing_line(phase: str, t: float) -> str:
    return f"{TIMING_PREFIX} phase={phase} t={t:.6f}"


def system_log_path(log_path: Path) -> Path:
    """``<worker>.log.system``: beside the worker's log, without matching ``*.log`` (that is its output)."""
    return Path(log_path).with_name(Path(log_path).name + ".system")


def write_system_line(log_path: Path, line: str, ts: float | None = None) -> None:
    """Append one platform line about a worker (``ts``: epoch seconds, default now)."""
    path = system_log_path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.time() if ts is None else ts:.6f}\t{line}\n")


def format_ts(ts_us: int) -> str:
    """RFC 3339 with microseconds, UTC: a valid ``date-time`` and a unique SSE event id."""
    seconds, micros = divmod(int(ts_us), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}Z"


def parse_ts(text: str) -> int:
    """An RFC 3339 time (``Z`` or an offset, with or without fractions) as epoch microseconds."""
    value = text.strip().replace("z", "Z")
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    whole = parsed.replace(microsecond=0)
    return int(whole.timestamp()) * 1_000_000 + parsed.microsecond


@dataclass(frozen=True)
class LogEvent:
    ts_us: int  # epoch microseconds: exact, so ids compare without rounding
    source: str
    line: str

    @property
    def ts(self) -> float:
        return self.ts_us / 1e6

    @property
    def id(self) -> str:
        return format_ts(self.ts_us)

    def data(self) -> dict:
        return {"ts": self.id, "source": self.source, "line": self.line}


@dataclass
class _WorkerLog:
    events: list = field(default_factory=list)
    container_offset: int = 0
    system_offset: int = 0
    partial: bytes = b""
    exit_logged: bool = False
    unhealthy_logged: bool = False
    marks: set = field(default_factory=set)

    def add(self, ts: float, source: str, line: str) -> None:
        last = self.events[-1].ts_us if self.events else 0
        self.events.append(LogEvent(max(round(ts * 1e6), last + 1), source, line))


class LogBook:
    """Every worker's log events, read from its files on demand (thread-safe)."""

    def __init__(self) -> None:
        self._logs: dict[str, _WorkerLog] = {}
        self._lock = threading.Lock()

    def refresh(self, worker_id: str, log_path: Path, exit_code: int | None = None, exited: bool = False,
                stop_reason: str | None = None, unhealthy_reason: str | None = None,
                marks: dict[str, float] | None = None) -> list[LogEvent]:
        """Read what the worker wrote since the last call; returns all its events so far. ``marks``:
        the platform's own timing marks (phase -> epoch s: spawned, first_take), each logged once."""
        with self._lock:
            log = self._logs.setdefault(worker_id, _WorkerLog())
            if marks and "spawned" in marks and "spawned" not in log.marks:  # before anything the worker wrote
                log.marks.add("spawned")
                log.add(marks["spawned"], "system", timing_line("spawned", marks["spawned"]))
            self._read_system(log, Path(log_path))
            self._read_container(log, Path(log_path))
            for phase, t in (marks or {}).items():
                if phase not in log.marks:
                    log.marks.add(phase)
                    log.add(t, "system", timing_line(phase, t))
            if unhealthy_reason and not log.unhealthy_logged:
                log.unhealthy_logged = True
                log.add(time.time(), "system", f"worker marked unhealthy: {unhealthy_reason}")
            if exited and not log.exit_logged:
                log.exit_logged = True
                log.add(time.time(), "system", f"worker exited with code {exit_code}"
                        + (f" ({stop_reason})" if stop_reason else ""))
            return list(log.events)

    @staticmethod
    def _read_system(log: _WorkerLog, log_path: Path) -> None:
        path = system_log_path(log_path)
        if not path.is_file():
            return
        with open(path, "rb") as f:
            f.seek(log.system_offset)
            data = f.read()
        complete = data[:data.rfind(b"\n") + 1]
        log.system_offset += len(complete)
        for raw in complete.decode("utf-8", "replace").splitlines():
            ts, _, line = raw.partition("\t")
            try:
                log.add(float(ts), "system", line)
            except ValueError:
                log.add(time.time(), "system", raw)

    @staticmethod
    def _read_container(log: _WorkerLog, log_path: Path) -> None:
        if not log_path.is_file():
            return
        with open(log_path, "rb") as f:
            f.seek(log.container_offset)
            data = f.read()
            written = os.fstat(f.fileno()).st_mtime
        log.container_offset += len(data)
        data = log.partial + data
        cut = data.rfind(b"\n") + 1
        log.partial = data[cut:]
        stamp = min(time.time(), written)  # the file's last write: exact for the newest line
        for line in data[:cut].decode("utf-8", "replace").splitlines():
            if line.strip():
                log.add(stamp, "container", line.rstrip("\r"))


def select(events: list[LogEvent], source: str | None = None, tail: int = DEFAULT_TAIL,
           since_us: int | None = None, after_us: int | None = None) -> list[LogEvent]:
    """The spec's backfill rules: ``after_us`` (Last-Event-ID) beats ``since_us``, which beats ``tail``."""
    chosen = [e for e in events if source is None or e.source == source]
    if after_us is not None:
        return [e for e in chosen if e.ts_us > after_us]
    if since_us is not None:
        return [e for e in chosen if e.ts_us >= since_us]
    return chosen[-tail:] if tail else []
