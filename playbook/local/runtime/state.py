"""The platform's records: jobs, workers and per-endpoint queues, all owned by the platform's event
loop. Why one module: the job API, the worker protocol and the scaler all move the same records
through RunPod's states, and the rules for those moves (a finished job never reopens) live here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playbook.core.settings import CANCELLED, COMPLETED, FAILED, IN_PROGRESS, IN_QUEUE, TERMINAL, TIMED_OUT  # noqa: F401
from playbook.local.runtime.endpoints import EndpointConfig

RUN_RETENTION_S = 30 * 60  # RunPod keeps /run results 30 minutes
RUNSYNC_RETENTION_S = 60  # and /runsync results 1 minute


def new_job_id() -> str:
    """RunPod job ids look like a UUID with a region suffix, e.g. 'a1b2...-u1'."""
    return f"{uuid.uuid4()}-l1"


@dataclass
class Job:
    id: str
    endpoint_id: str
    input: Any
    sync: bool = False
    webhook: str | None = None
    execution_timeout_ms: int | None = None
    s3_config: dict | None = None  # passed to the worker, never shown in responses
    low_priority: bool = False  # policy.lowPriority: RunPod does not scale up for it (not yet honoured here)
    created: float = field(default_factory=time.monotonic)
    status: str = IN_QUEUE
    started: float | None = None
    finished: float | None = None
    output: Any = None
    error: Any = None
    worker_id: str | None = None
    retries: int = 0
    stream: list = field(default_factory=list)  # chunks not yet read through /stream
    done: asyncio.Event | None = None  # created on the loop

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def delay_ms(self) -> int | None:
        return None if self.started is None else int((self.started - self.created) * 1000)

    @property
    def execution_ms(self) -> int | None:
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else time.monotonic()
        return int((end - self.started) * 1000)

    def body(self) -> dict:
        """The JSON RunPod returns from /status: id, status, delayTime, executionTime (ms), output/error."""
        data: dict = {"id": self.id, "status": self.status}
        if self.delay_ms is not None:
            data["delayTime"] = self.delay_ms
            data["executionTime"] = self.execution_ms
        if self.worker_id:
            data["workerId"] = self.worker_id
        if self.output is not None:
            data["output"] = self.output
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class Worker:
    id: str
    endpoint_id: str
    runner: str
    log_path: Path
    spawned: float = field(default_factory=time.monotonic)
    handle: Any = None  # a runners.WorkerHandle once started
    ready: float | None = None  # first job take: spawn to here is the cold start
    state: str = "initializing"  # initializing, idle, running, stopping, exited
    jobs: set = field(default_factory=set)
    last_active: float = field(default_factory=time.monotonic)
    jobs_done: int = 0
    exit_code: int | None = None
    exited: float | None = None
    stop_reason: str | None = None
    last_ping: float | None = None
    stop_signals: list = field(default_factory=list)
    signalled: dict = field(default_factory=dict)  # job id -> when its stop signal was last sent
    stop_waiter: asyncio.Future | None = None
    takers: list = field(default_factory=list)  # pending job-take futures of this worker
    release: int = 1  # the endpoint's release it was started on (older than the endpoint's: stale)
    billed_from: float | None = None  # monotonic: when its container (process) had started; billing starts here

    @property
    def cold_start_s(self) -> float | None:
        return None if self.ready is None else self.ready - self.spawned

    @property
    def active(self) -> bool:
        return self.state in ("initializing", "idle", "running")


@dataclass
class EndpointState:
    cfg: EndpointConfig
    queue: deque = field(default_factory=deque)  # job ids waiting
    jobs: dict = field(default_factory=dict)  # id -> Job, kept until retention expires
    workers: dict = field(default_factory=dict)  # id -> Worker (not yet exited)
    past_workers: list = field(default_factory=list)
    takers: deque = field(default_factory=deque)  # (worker, future, batch_size) long polls waiting
    completed: int = 0
    failed: int = 0
    retried: int = 0
    start_failures: int = 0  # consecutive workers that died before their first job take
    last_start_error: str | None = None
    release: int = 1  # bumped by a change to a container field (image, env): older workers are stale
    last_request_s: float | None = None  # calendar epoch s (runtime.clock) of its last job request or creation
    backoff_until: float = 0.0  # monotonic: strict mode starts no worker before this (crash-loop back-off)
    throttled: int = 0  # workers the scaler wants but holds back while backing off (health's "throttled")

    def counts(self) -> dict:
        active = [w for w in self.workers.values() if w.active]
        return {
            "workers": len(active),
            "initializing": sum(w.state == "initializing" for w in active),
            "idle": sum(w.state == "idle" for w in active),
            "running": sum(w.state == "running" for w in active),
            "in_queue": len(self.queue),
            "in_progress": sum(j.status == IN_PROGRESS for j in self.jobs.values()),
        }

    def health(self) -> dict:
        """RunPod's /health body."""
        c = self.counts()
        return {
            "jobs": {"completed": self.completed, "failed": self.failed, "inProgress": c["in_progress"],
                     "inQueue": c["in_queue"], "retried": self.retried},
            "workers": {"idle": c["idle"], "initializing": c["initializing"], "ready": c["idle"],
                        "running": c["running"], "throttled": self.throttled, "unhealthy": 0},
        }
