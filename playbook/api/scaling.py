"""The scaling policy: how many workers to start and which idle ones to stop, as RunPod's scaler decides.

Why a pure function: the local platform's scaler (``playbook.local.runtime.scaler``) and the simulator
(``playbook.cost.simulate``) must make the same decision from the same state, or the simulator's predictions
say nothing about the platform. So the decision takes a snapshot of one endpoint and a time and returns
what to do; there are no processes, clocks or side effects in here.

The rules (docs/runpod-facts.md §7):
* QUEUE_DELAY: when jobs wait and the oldest has waited at least ``scaler_value`` seconds, start one
  worker per queued job that no starting or idle worker will take (at once when no worker exists).
* REQUEST_COUNT: target ``ceil((in_queue + in_progress) / scaler_value)`` workers while jobs wait.
* Never fewer than ``workers_min`` nor more than ``workers_max`` active workers.
* Zero idle cost: an idle worker whose last activity is ``idle_timeout_s`` old stops, longest idle first,
  down to ``workers_min``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

QUEUE_DELAY, REQUEST_COUNT = "QUEUE_DELAY", "REQUEST_COUNT"
EPSILON_S = 1e-9  # a rule due at t fires at t, whatever the float rounding of "last_active + timeout"


@dataclass(frozen=True)
class Policy:
    """The endpoint settings the decision depends on (RunPod's names in comments)."""

    workers_min: int = 0  # workers.min
    workers_max: int = 3  # workers.max
    idle_timeout_s: float = 5.0  # workers.idleTimeout
    scaler_type: str = QUEUE_DELAY  # scaling.type
    scaler_value: float = 4.0  # scaling.queueDelay (s) or scaling.requestCount (jobs per worker)

    @classmethod
    def of(cls, cfg) -> Policy:
        """The policy of anything with the EndpointConfig field names."""
        return cls(cfg.workers_min, cfg.workers_max, float(cfg.idle_timeout_s), cfg.scaler_type,
                   float(cfg.scaler_value))


class WorkerView(NamedTuple):
    """One active worker as the policy sees it: ``state`` is initializing, idle or running. (A named tuple:
    immutable, and cheap enough to build thousands of times per simulated hour.)"""

    id: str
    state: str
    last_active_s: float  # when it last finished or took a job (or started), same clock as ``now_s``
    busy: bool = False  # holds a job even if its state says idle


@dataclass(frozen=True)
class Snapshot:
    """One endpoint at one moment: its active workers and its jobs."""

    workers: Sequence[WorkerView] = ()
    in_queue: int = 0
    in_progress: int = 0
    oldest_queued_s: float | None = None  # when the oldest waiting job was queued


@dataclass(frozen=True)
class Decision:
    start: int = 0
    stop: tuple[str, ...] = field(default_factory=tuple)


def decide(policy: Policy, snap: Snapshot, now_s: float) -> Decision:
    """How many workers to start and which idle ones to stop, at ``now_s``."""
    n = len(snap.workers)
    want = n
    if snap.in_queue:
        if policy.scaler_type == REQUEST_COUNT:
            want = max(n, math.ceil((snap.in_queue + snap.in_progress) / policy.scaler_value))
        else:
            free = sum(w.state in ("initializing", "idle") for w in snap.workers)
            shortage = snap.in_queue - free
            oldest = now_s if snap.oldest_queued_s is None else snap.oldest_queued_s
            if shortage > 0 and (n == 0 or now_s - oldest >= policy.scaler_value - EPSILON_S):
                want = n + shortage
    want = min(max(want, policy.workers_min), policy.workers_max)
    start = max(0, want - n)
    stop: list[str] = []
    remaining = n + start
    idle = sorted((w for w in snap.workers if w.state == "idle" and not w.busy), key=lambda w: w.last_active_s)
    for worker in idle:
        if remaining <= policy.workers_min:
            break
        if now_s - worker.last_active_s >= policy.idle_timeout_s - EPSILON_S:
            stop.append(worker.id)
            remaining -= 1
    return Decision(start, tuple(stop))


def next_expiry_s(policy: Policy, snap: Snapshot) -> float | None:
    """When the next idle worker would reach its idle timeout (for event-driven users such as the simulator)."""
    idle = [w.last_active_s for w in snap.workers if w.state == "idle" and not w.busy]
    return min(idle) + policy.idle_timeout_s if idle and len(snap.workers) > policy.workers_min else None
