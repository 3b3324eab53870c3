"""Fault injection: break an endpoint of the local platform on purpose, the way RunPod endpoints break.

Why: the troubleshooting notebook and the doctor's tests need each classic failure on demand, with the
symptoms a user meets on RunPod (a status, a job that waits, a log line), without a GPU or an account.
The switch is an ordinary, documented endpoint setting: the env key ``PLAYBOOK_FAULT`` (on RunPod it
would be just another env var, ignored). Remove the key (a PATCH of ``env``) and the faulty workers are
replaced by healthy ones, as a new release replaces workers on RunPod.

``PLAYBOOK_FAULT`` values (one per endpoint):

- ``no_stock``: no GPU stock for the endpoint's pools. Workers are placed as THROTTLED and never start;
  jobs wait IN_QUEUE. (The same happens for real when every (pool, data center) of the endpoint has stock
  NONE in the local catalog.)
- ``crash_loop``: the worker process dies at start with a traceback, again and again; meanwhile its
  status reads RUNNING (the pod is up), as RunPod's own status does. Process workers only.
- ``image_pull``: the image cannot be pulled: workers stay INITIALIZING with a system log line
  ``error creating container: image pull: <image>: pending``.
- ``cuda_mismatch``: the host driver is older than the image's CUDA: a system line
  ``nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8`` and the worker exits.
- ``oom``: every job fails with ``CUDA out of memory`` (the handler is wrapped). Process workers only.
- ``slow_init``: the worker's start takes longer than the init timeout (env ``RUNPOD_INIT_TIMEOUT``
  seconds, RunPod's default 420): it sleeps 5 x that + 10 s before the handler runs, and past the
  timeout it reads UNHEALTHY. Process workers only.
- ``hang``: a job's handler never returns and writes nothing: the job stays IN_PROGRESS until the
  execution timeout. Process workers only.

Both kinds are dispatched by ``supervision.runners.choose_runner``. The placement faults (no_stock,
image_pull, cuda_mismatch) get ``FaultRunner`` below. The process-side faults ("Process workers only") are
carried out by ``supervision/launch.py`` (it reads the same env key), so an endpoint with one runs its
workers as processes even when its image is in the local Docker daemon.

Only what a CPU cannot produce truly needs the switch (GPU out of memory, a driver older than the image's
CUDA); the other faults stay for the walk-through and older tests, and each has a real cause too (the
doctor's corpus, tests/doctor_corpus.py, uses only those): an image missing from the registry is pulled for
real and fails with Docker's message, no stock is the catalog's NONE, a crash is a handler that fails, a
hang is a handler that never returns. The stale-release, wrong-architecture, missing-model and template
traps need no switch: they are made for real (a PATCH after the workers started, an arm64 image, an empty
volume, a template edited after create).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from playbook.core.errors import ConfigError
from playbook.local.runtime.worker_logs import write_system_line

FAULT_ENV = "PLAYBOOK_FAULT"
INIT_TIMEOUT_ENV = "RUNPOD_INIT_TIMEOUT"
DEFAULT_INIT_TIMEOUT_S = 420.0  # RunPod marks a worker unhealthy when its start passes 7 minutes
FAULTS = {
    "no_stock": "no GPU stock for the endpoint's pools: workers stay THROTTLED, jobs wait IN_QUEUE",
    "crash_loop": "the worker dies at start with a traceback while its status reads RUNNING",
    "image_pull": "the image cannot be pulled: workers stay INITIALIZING",
    "cuda_mismatch": "the host's driver is older than the image's CUDA: the worker exits at start",
    "oom": "every job fails with CUDA out of memory",
    "slow_init": "the worker's start takes longer than the init timeout: it reads UNHEALTHY",
    "hang": "a job's handler never returns: the job stays IN_PROGRESS",
}
PLACEMENT_FAULTS = ("no_stock", "image_pull", "cuda_mismatch")
# Simulated on a CPU: the lines are the field signatures RunPod's workers show (docs/runpod-facts.md §8, "Known log
# lines", from RunPod's serverless troubleshooting docs and NVIDIA's container toolkit), not made-up text.
CUDA_MISMATCH_LINE = ("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.8, please "
                      "update your driver to a newer version, or use an earlier cuda container: unknown")


SIMULATED_IMAGE_CUDA = (12, 8)  # the CUDA the cuda_mismatch fault's image needs (its hosts' drivers are older)
SIMULATED_OOM_NEEDS_GB = 24  # the oom fault's model needs this much VRAM: on a larger pool it fits


def cuda_floor_met(cfg) -> bool:
    """Whether the endpoint asks RunPod for hosts whose driver has the image's CUDA (minCudaVersion, or every
    allowedCudaVersions entry, at least SIMULATED_IMAGE_CUDA): then cuda_mismatch no longer happens."""
    gpu = ((getattr(cfg, "extra", None) or {}).get("rest") or {}).get("gpu") or {}
    wanted = [gpu["minCudaVersion"]] if gpu.get("minCudaVersion") else list(gpu.get("allowedCudaVersions") or [])
    try:
        return bool(wanted) and all(tuple(int(x) for x in str(v).split(".")[:2]) >= SIMULATED_IMAGE_CUDA
                                    for v in wanted)
    except ValueError:
        return False


def worker_fault_env(cfg, env: dict, catalog) -> dict:
    """The oom fault on the GPU the worker is placed on: gone when the pool's VRAM holds the model, else the
    pool and its VRAM for the message (``PLAYBOOK_FAULT_GPU``)."""
    if env.get(FAULT_ENV) != "oom":
        return env
    pools = (((getattr(cfg, "extra", None) or {}).get("rest") or {}).get("gpu") or {}).get("pools") or ["AMPERE_16"]
    entry = catalog.pools.get(pools[0]) if catalog is not None else None
    vram = entry.vram_gb if entry is not None else 16
    if vram >= SIMULATED_OOM_NEEDS_GB:
        return {k: v for k, v in env.items() if k != FAULT_ENV}
    return {**env, "PLAYBOOK_FAULT_GPU": f"{pools[0]}:{vram}"}


def fault_of(cfg) -> str | None:
    """The endpoint's fault switch, checked against the known names."""
    value = (getattr(cfg, "env", None) or {}).get(FAULT_ENV)
    if not value:
        return None
    if value not in FAULTS:
        raise ConfigError(f"env {FAULT_ENV}={value[:60]!r} is not a known fault; use one of {sorted(FAULTS)} "
                          "or remove the key.")
    return value


def init_timeout_s(cfg) -> float:
    value = (getattr(cfg, "env", None) or {}).get(INIT_TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_INIT_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"env {INIT_TIMEOUT_ENV}={value[:60]!r} must be a number of seconds.") from None


def no_stock_for(cfg, stock: dict | None) -> bool:
    """Whether the endpoint can be placed nowhere: the fault, or every (pool, data center) it may use
    has stock NONE in the catalog (``stock``: {(pool, dc): level} of the control state)."""
    if fault_of(cfg) == "no_stock":
        return True
    rest = (getattr(cfg, "extra", None) or {}).get("rest") or {}
    pools = (rest.get("gpu") or {}).get("pools") or []
    dcs = rest.get("dataCenterIds") or sorted({dc for _, dc in (stock or {})})
    if not stock or not pools or not dcs:
        return False
    pairs = [(p, dc) for p in pools for dc in dcs if (p, dc) in stock]
    return bool(pairs) and all(stock[pair] == "NONE" for pair in pairs)


def reported_status(cfg, state: str, age_s: float | None, placement: str | None = None) -> str:
    """What the workers view says about a local worker in ``state``: RunPod's pod-level status, which
    is not always the truth (a crash-looping worker reads RUNNING); the logs are the authority.
    ``placement``: the placement fault of a ``FaultRunner`` worker (None for a real one)."""
    if placement == "no_stock":
        return "THROTTLED"
    if state == "initializing":
        if placement is None and fault_of(cfg) == "crash_loop":
            return "RUNNING"
        if unhealthy_reason(cfg, state, age_s, placement):
            return "UNHEALTHY"
        return "INITIALIZING"
    if state in ("running", "idle"):
        return state.upper()
    return "IDLE" if state == "stopping" else "UNHEALTHY"


def unhealthy_reason(cfg, state: str, age_s: float | None, placement: str | None = None) -> str | None:
    """Why a worker reads UNHEALTHY: a start (after placement and pull) longer than the init timeout."""
    if state == "initializing" and placement is None and age_s is not None and age_s > init_timeout_s(cfg) \
            and fault_of(cfg) != "crash_loop":
        return f"start exceeded the init timeout of {init_timeout_s(cfg):g} s ({INIT_TIMEOUT_ENV})"
    return None


def placement_fault(cfg, stock=None) -> str | None:
    """The placement fault a new worker of ``cfg`` meets: the switch, or no stock in ``stock`` (the control
    API's stock table, which the platform passes in; None: every pool has stock)."""
    fault = fault_of(cfg)
    if fault == "cuda_mismatch" and cuda_floor_met(cfg):
        return None  # placed on a host whose driver is new enough
    if fault in PLACEMENT_FAULTS:
        return fault
    return "no_stock" if no_stock_for(cfg, stock) else None


def current_placement_fault(cfg, stock=None) -> str | None:
    """As ``placement_fault`` for an endpoint as now configured (None when it is gone or a PATCH removed the
    fault); a configuration that no longer parses counts as no fault."""
    if cfg is None:
        return None
    try:
        return placement_fault(cfg, stock)
    except ConfigError:
        return None


class FaultHandle:
    """A worker that never gets a container: it waits (throttled, pull pending) or exits (driver too
    old). When the endpoint's fault is removed it goes away, so that a healthy worker replaces it."""

    pid = None

    def __init__(self, endpoint_id: str, fault: str, exit_after_s: float | None,
                 current_fault: Callable[[str], str | None]):
        self.endpoint_id, self.fault, self._current_fault = endpoint_id, fault, current_fault
        self._exit_at = None if exit_after_s is None else time.monotonic() + exit_after_s
        self._stopped = threading.Event()
        self.returncode: int | None = None

    def alive(self) -> bool:
        if self._stopped.is_set():
            return False
        if self._exit_at is not None and time.monotonic() >= self._exit_at:
            self.returncode = 1
            return False
        if self._current_fault(self.endpoint_id) != self.fault:
            self.returncode = 0
            return False
        return True

    def stop(self, timeout_s: float = 5.0) -> None:
        self.kill()

    def kill(self) -> None:
        if self.returncode is None:
            self.returncode = 0
        self._stopped.set()


class FaultRunner:
    """The runner for the placement faults (``PLACEMENT_FAULTS``). ``current_fault(endpoint_id)`` says the
    endpoint's placement fault as now configured: a worker goes away once its fault is gone."""

    name = "fault"

    def __init__(self, fault: str, current_fault: Callable[[str], str | None]):
        self.fault, self.current_fault = fault, current_fault

    def start(self, worker_id: str, endpoint, env: dict, log_path: Path) -> FaultHandle:
        fault = self.fault
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        Path(log_path).touch()
        image = endpoint.image or "local/playbook-worker:latest"
        if fault == "no_stock":
            write_system_line(log_path, "worker throttled: no GPU available in the endpoint's pools and data "
                                        "centers; waiting for capacity")
            return FaultHandle(endpoint.id, fault, None, self.current_fault)
        if fault == "image_pull":
            write_system_line(log_path, f"pulling image {image}")
            write_system_line(log_path, f"error creating container: image pull: {image}: pending")
            return FaultHandle(endpoint.id, fault, None, self.current_fault)
        write_system_line(log_path, f"creating container from {image}")
        write_system_line(log_path, CUDA_MISMATCH_LINE)
        return FaultHandle(endpoint.id, fault, 0.3, self.current_fault)
