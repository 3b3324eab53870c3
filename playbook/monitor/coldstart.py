"""Cold-start breakdown: where a worker's start went, phase by phase, read from its timing marks.

Why: "cold start 6 s" does not say what to fix. The worker prints a mark as each phase ends
(``worker/imagegen/timing.py``) and the platform logs when it spawned the worker and when the worker
first took a job, so the logs (the only thing RunPod exposes) carry the whole story:

    spawned -> [container_started: image pull and container create, containers only]
            -> started (process start: interpreter, launcher) -> imported (imports)
            -> model_loaded (model load) -> fitness_checked (fitness check) -> first_take (first job take)

Consecutive marks give the phases, so they sum to spawn-to-first-take by construction; a missing mark
merges its phase into the next ("imports + model load"); a handler without marks shows one "start". A job's
``delayTime`` is then split into waiting for capacity, waiting for its worker to start, and queueing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playbook.core.html import table

MARK = re.compile(r"PLAYBOOK_TIMING phase=(\w+) t=([\d.]+)")
# mark -> the phase that ends with it
PHASES = {"container_started": "image pull", "started": "process start", "imported": "imports",
          "model_loaded": "model load", "fitness_checked": "fitness check", "first_take": "first job take"}
COLORS = {"image pull": "#8c564b", "process start": "#bbbbbb", "imports": "#3b7dd8", "model load": "#2a9d55",
          "fitness check": "#e9c46a", "first job take": "#e76f51", "start": "#999999"}


@dataclass(frozen=True)
class ColdStart:
    """One worker's start, phase by phase (seconds), from spawn to its first job take."""

    worker_id: str
    phases_s: dict  # phase name -> seconds, in order
    spawn_to_first_take_s: float | None

    @property
    def total_s(self) -> float:
        return round(sum(self.phases_s.values()), 6)

    def row(self) -> list:
        return [self.worker_id, *[round(self.phases_s.get(p, 0.0), 3) for p in PHASES.values()],
                None if self.spawn_to_first_take_s is None else round(self.spawn_to_first_take_s, 3)]

    def _repr_html_(self) -> str:
        return breakdown_table([self])


def marks_of(lines) -> dict[str, float]:
    """Timing marks (phase -> epoch s) found in log lines (``LogLine``s or strings); the first of each."""
    marks: dict[str, float] = {}
    for line in lines:
        match = MARK.search(getattr(line, "line", line))
        if match and match.group(1) not in marks:
            marks[match.group(1)] = float(match.group(2))
    return marks


def breakdown(worker_id: str, lines) -> ColdStart:
    """The worker's phases from its log lines (needs at least the ``spawned`` mark)."""
    marks = marks_of(lines)
    phases: dict[str, float] = {}
    if "spawned" in marks:
        order = ["spawned", *PHASES]
        last = "spawned"
        for mark in PHASES:
            if mark not in marks:
                continue
            between = [PHASES[m] for m in order[order.index(last) + 1:order.index(mark) + 1]
                       if m != "container_started" or m == mark]
            name = "start" if (last, mark) == ("spawned", "first_take") else " + ".join(between)
            phases[name] = round(max(0.0, marks[mark] - marks[last]), 6)
            last = mark
    total = marks["first_take"] - marks["spawned"] if {"spawned", "first_take"} <= set(marks) else None
    return ColdStart(worker_id, phases, total)


def breakdown_table(starts: list[ColdStart]) -> str:
    header = ["worker", *[f"{p} s" for p in PHASES.values()], "spawn to first take s"]
    return table([s.row() for s in starts], header=header, caption="cold start by phase")


def plot_breakdown(starts: list[ColdStart], ax=None):
    """Stacked horizontal bars, one per worker: where each cold start went."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.4 + 0.45 * max(1, len(starts))), layout="constrained")
    seen = set()
    for y, start in enumerate(starts):
        left = 0.0
        for phase, seconds in start.phases_s.items():
            ax.barh(y, seconds, left=left, color=COLORS.get(phase, "#666"),
                    label=None if phase in seen else phase)
            seen.add(phase)
            left += seconds
    ax.set_yticks(range(len(starts)), [s.worker_id for s in starts])
    ax.set_xlabel("seconds from spawn")
    ax.set_title("where each worker's cold start went (from its log's timing marks)", fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")  # beside the bars, never over them
    return ax


@dataclass(frozen=True)
class DelaySplit:
    """A job's delayTime split: waiting for capacity (throttled), for its worker to start, in the queue."""

    job_id: str
    delay_s: float
    capacity_s: float
    starting_s: float
    queueing_s: float


def start_of(starts: list[ColdStart], worker_id: str | None) -> ColdStart | None:
    """The cold start of the worker ``worker_id`` (a job's ``workerId``) when its log had the marks to measure it."""
    found = next((s for s in starts if s.worker_id == worker_id), None)
    return found if found is not None and found.spawn_to_first_take_s is not None else None


def split_delay(job_id: str, delay_ms: int | None, start: ColdStart | None = None,
                throttled_s: float = 0.0) -> DelaySplit:
    """Split ``delayTime``: when the job was its worker's first, the part of the wait that the worker
    spent starting (at most its cold start) is "starting", any time the worker waited THROTTLED is
    "capacity", the rest is queueing (waiting for a free worker or for the scaler to add one)."""
    delay_s = (delay_ms or 0) / 1000
    capacity = min(delay_s, throttled_s)
    starting = min(delay_s - capacity, start.total_s) if start is not None else 0.0
    return DelaySplit(job_id, round(delay_s, 3), round(capacity, 3), round(starting, 3),
                      round(delay_s - capacity - starting, 3))
