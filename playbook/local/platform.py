"""LocalPlatform: the local stand-in for RunPod serverless, in a background thread of this process.

Why a thread with its own event loop: notebooks and tests keep their main thread free, and every
public method (``create_endpoint``, ``list_workers``...) is run on the platform's loop, so it is safe
to call both from other threads and from aiohttp handlers on the loop itself (the REST control API).
Shutdown order matters: workers are stopped while the server still answers them (the SDK retries job
take at once against a closed port), then the server goes. An ``atexit`` hook and a lifeline pipe per
worker make sure no worker outlives the platform.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from aiohttp import web

from playbook.core import settings
from playbook.core.config import Target, build_dir, local_state_file
from playbook.core.errors import ConfigError, PlatformError
from playbook.core.excerpts import excerpt
from playbook.core.secrets import Secret
from playbook.local.runtime import persist
from playbook.local.runtime.clock import Clock
from playbook.local.runtime.endpoints import EndpointConfig, new_endpoint_id
from playbook.local.runtime.engine import Engine
from playbook.local.runtime.scaler import Scaler, TimelineSample
from playbook.local.runtime.state import EndpointState
from playbook.local.supervision.docker_runner import Containers
from playbook.local.supervision.forking import Forkservers

log = logging.getLogger("playbook.local")


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as monitoring sees it; times in seconds since the platform started."""

    id: str
    endpoint_id: str
    state: str
    runner: str
    pid: int | None
    spawned_t_s: float
    cold_start_s: float | None
    exited_t_s: float | None
    exit_code: int | None
    stop_reason: str | None
    jobs_done: int
    log_path: str
    last_ping_age_s: float | None = None  # seconds since the worker's last heartbeat (None: none yet)
    release: int = 1  # the endpoint's release it runs (older than ``endpoint_release``: stale)


SAVE_EVERY_S = 1.0


def _container(cfg: EndpointConfig) -> tuple:
    """What a release is made of: the image, its env, the handler, and the REST container fields."""
    rest = (cfg.extra or {}).get("rest") or {}
    return (cfg.image, sorted((cfg.env or {}).items()), str(cfg.handler_path),
            *(repr(rest.get(k)) for k in ("disk", "args", "ports", "registry")))


class LocalPlatform:
    def __init__(self, port: int = 0, host: str = "127.0.0.1", api_key: str | None = None,
                 record: bool = True, log_dir: Path | None = None, strict: bool | None = None,
                 data_file: Path | None = None):
        """``strict``: None reads PLAYBOOK_LOCAL_STRICT. ``data_file``: where a strict platform keeps its state
        (default ``<state folder>/local-platform-data.json``); a saved state is restored at start."""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("the local platform binds to loopback only; use host='127.0.0.1'.")
        self.host, self.port = host, port
        self.strict = settings.local_strict() if strict is None else bool(strict)
        self.data_file = Path(data_file or settings.state_dir() / persist.STATE_FILE) if self.strict else None
        self.saved = persist.load(self.data_file) if self.data_file else None
        self.api_key = (api_key or settings.local_api_key() or (self.saved or {}).get("api_key")
                        or f"local-{secrets.token_urlsafe(18)}")
        self.worker_key = f"worker-{secrets.token_urlsafe(18)}"
        self.record = record
        self.log_dir = Path(log_dir or build_dir() / "local" / "logs").resolve()
        self.clock = Clock((self.saved or {}).get("clock_offset_s", 0.0))
        self.containers = Containers()  # what this platform's Docker runners started: swept at stop
        self.forkservers = Forkservers(self.log_dir)  # warm servers its process workers fork from: closed at stop
        self.engine = Engine(self.clock)
        self.scaler = Scaler(self)
        self.control_state = None  # the REST control API's ControlState, set when its routes are added
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._scaler_task: asyncio.Task | None = None
        self._saver_task: asyncio.Task | None = None
        self._worker_seq = 0
        self._stopped = threading.Event()

    # ------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def target(self) -> Target:
        return Target("local", f"{self.url}/v2", f"{self.url}/v2", Secret(self.api_key))

    def start(self) -> LocalPlatform:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=main, name="playbook-local-platform", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise PlatformError(f"the local platform could not start on {self.host}:{self.port}: {failure[0]}")
        atexit.register(self._stop_at_exit)
        if self.record:
            self._write_state()
        return self

    async def _serve(self) -> None:
        from playbook.local.servers.app import build_app

        self._runner = web.AppRunner(build_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        if self.saved:
            requeued = persist.restore(self, self.saved)
            log.info("restored %d endpoint(s) from %s (%d job(s) back in their queues)",
                     len(self.engine.endpoints), self.data_file, requeued)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._scaler_task = asyncio.ensure_future(self.scaler.run())
        if self.data_file:
            self._saver_task = asyncio.ensure_future(self._save_periodically())

    def save_state(self) -> None:
        """Write the strict platform's state file now (on the loop, or from any thread)."""
        if self.data_file:
            persist.save(self.data_file, self.call(persist.snapshot, self))

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            try:
                self.save_state()
            except Exception:  # the platform keeps serving; the next save tries again
                log.exception("could not save the local platform's state to %s", self.data_file)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            self.stop()

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop every worker (while still answering them), then the server. Safe to call twice."""
        if self._stopped.is_set() or self._loop is None:
            return
        self._stopped.set()
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(grace_s), self._loop).result(timeout=grace_s + 30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            atexit.unregister(self._stop_at_exit)
            if self.record:
                self._clear_state()

    async def _shutdown(self, grace_s: float) -> None:
        for task in (self._scaler_task, self._saver_task):
            if task:
                task.cancel()
        pending = []
        for ep in self.engine.endpoints.values():
            for worker in list(ep.workers.values()):
                pending.append(self.scaler.stop_worker(ep, worker, "platform stopped", grace_s))
        waits = [p for p in pending if p is not None]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        # workers still starting in the executor: wait for their handles and kill them
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(w.handle is None for ep in self.engine.endpoints.values()
                                                   for w in ep.workers.values() if w.state != "exited"):
            await asyncio.sleep(0.05)
        for ep in self.engine.endpoints.values():
            for worker in list(ep.workers.values()):
                if worker.handle is not None:
                    await asyncio.get_running_loop().run_in_executor(None, worker.handle.kill)
            for worker in list(ep.workers.values()):  # the reaper no longer sees them: close their bill
                self.engine.ledger.close(worker.id, time.time())
                self.engine.worker_gone(ep, worker, getattr(worker.handle, "returncode", None))
        await asyncio.get_running_loop().run_in_executor(None, self.containers.sweep)
        await asyncio.get_running_loop().run_in_executor(None, self.forkservers.close)
        if self.data_file:
            persist.save(self.data_file, persist.snapshot(self))
        await self._runner.cleanup()

    def __enter__(self) -> LocalPlatform:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _write_state(self) -> None:
        path = local_state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {"job_api_url": self.target.job_api_url, "control_api_url": self.target.control_api_url,
                 "api_key": self.api_key, "pid": os.getpid(), "log_dir": str(self.log_dir)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    def _clear_state(self) -> None:
        path = local_state_file()
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if state.get("job_api_url") == self.target.job_api_url and state.get("pid") == os.getpid():
            path.unlink(missing_ok=True)

    # ----------------------------------------------------- loop-side helpers
    def call(self, fn, *args, **kwargs):
        """Run ``fn`` on the platform's loop (directly when already on it) and return its result."""
        if self._loop is None or self._stopped.is_set():
            raise PlatformError("the local platform is not running; start it with playbook.local.start().")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return fn(*args, **kwargs)

        async def run():
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def new_worker_id(self) -> str:
        self._worker_seq += 1
        return f"w{self._worker_seq:03d}{secrets.token_hex(3)}"

    # ------------------------------------------------------------ endpoints
    def create_endpoint(self, cfg: EndpointConfig | None = None, **fields) -> EndpointConfig:
        """Register an endpoint (an ``EndpointConfig`` or its fields); workers_min workers start now."""
        cfg = cfg or EndpointConfig(**fields)
        cfg.validate()
        if self.strict and not cfg.image:
            raise ConfigError("image: a strict local platform runs only images, as RunPod does; set the endpoint's "
                              "image to a registry reference (pushed by `playbook build --push`).")

        def create():
            if not cfg.id:
                cfg.id = new_endpoint_id()
            if cfg.id in self.engine.endpoints:
                raise ConfigError(f"endpoint id {excerpt(cfg.id)} already exists; update it or pick another id.")
            ep = self.engine.endpoints[cfg.id] = EndpointState(cfg)
            ep.last_request_s = self.clock.time()  # the idle scale-down counts from creation
            self.scaler.sample(ep, time.monotonic())  # the timeline starts at zero workers
            return cfg

        return self.call(create)

    def update_endpoint(self, endpoint_id: str, **changes) -> EndpointConfig:
        """Change fields of an endpoint; new workers use the new config. A change to a container field makes
        a new release: older workers are stale and are replaced once idle (``runtime.rules``). A change of
        the worker counts is the user's own: the idle scale-down counts its days again from here."""
        def update():
            ep = self._endpoint(endpoint_id)
            cfg = ep.cfg.changed(**changes)
            cfg.validate()
            if _container(cfg) != _container(ep.cfg):
                ep.release += 1
            if ("workers_max" in changes and changes["workers_max"] != ep.cfg.workers_max) or (
                    "workers_min" in changes and changes["workers_min"] != ep.cfg.workers_min):
                ep.last_request_s = self.clock.time()
            ep.cfg = cfg
            return cfg

        return self.call(update)

    def delete_endpoint(self, endpoint_id: str) -> None:
        """Stop the endpoint's workers, cancel its queued jobs and forget it."""
        async def delete():
            ep = self._endpoint(endpoint_id)
            self.engine.purge_queue(ep)
            waits = [self.scaler.stop_worker(ep, w, "endpoint deleted") for w in list(ep.workers.values())]
            del self.engine.endpoints[endpoint_id]
            for worker in list(ep.workers.values()):
                worker.state = "stopping"
            await asyncio.gather(*[w for w in waits if w is not None], return_exceptions=True)
            for worker in list(ep.workers.values()):
                if worker.handle is not None:
                    await asyncio.get_running_loop().run_in_executor(None, worker.handle.kill)
            for worker in list(ep.workers.values()):  # the reaper no longer sees them: close their bill
                self.engine.ledger.close(worker.id, time.time())

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:  # from a handler on the loop: finish the stop in the background
            self._endpoint(endpoint_id)
            asyncio.ensure_future(delete())
            return
        asyncio.run_coroutine_threadsafe(delete(), self._loop).result(timeout=60)

    def advance_clock(self, seconds: float) -> float:
        """Move the platform's calendar on (tests of the 3- and 7-day idle scale-down); returns the offset."""
        return self.clock.advance(seconds)

    def endpoint_release(self, endpoint_id: str) -> int:
        """The endpoint's current release (1, plus one per change of a container field)."""
        return self.call(lambda: self._endpoint(endpoint_id).release)

    def get_endpoint(self, endpoint_id: str) -> EndpointConfig:
        return self.call(lambda: self._endpoint(endpoint_id).cfg)

    def list_endpoints(self) -> list[EndpointConfig]:
        return self.call(lambda: [ep.cfg for ep in self.engine.endpoints.values()])

    def _endpoint(self, endpoint_id: str) -> EndpointState:
        ep = self.engine.endpoints.get(endpoint_id)
        if ep is None:
            known = ", ".join(self.engine.endpoints) or "none"
            raise ConfigError(f"no endpoint {excerpt(endpoint_id)} on the local platform (known: {known}).")
        return ep

    # ----------------------------------------------------------- monitoring
    def list_workers(self, endpoint_id: str, include_exited: bool = False) -> list[WorkerInfo]:
        def collect():
            ep = self._endpoint(endpoint_id)
            workers = list(ep.workers.values()) + (ep.past_workers if include_exited else [])
            return [self._info(w) for w in sorted(workers, key=lambda w: w.spawned)]

        return self.call(collect)

    def _info(self, w) -> WorkerInfo:
        t0 = self.engine.t0
        return WorkerInfo(w.id, w.endpoint_id, w.state, w.runner, getattr(w.handle, "pid", None),
                          round(w.spawned - t0, 3), None if w.cold_start_s is None else round(w.cold_start_s, 3),
                          None if w.exited is None else round(w.exited - t0, 3), w.exit_code, w.stop_reason,
                          w.jobs_done, str(w.log_path),
                          None if w.last_ping is None else round(time.monotonic() - w.last_ping, 3), w.release)

    def timeline(self, endpoint_id: str) -> list[TimelineSample]:
        """Worker and job counts over time (a sample each time they change): the scale-up/down plot."""
        return self.call(lambda: [s for s in self.engine.timeline if s.endpoint_id == endpoint_id])

    def health(self, endpoint_id: str) -> dict:
        return self.call(lambda: self._endpoint(endpoint_id).health())

    def billed_workers(self, endpoint_id: str) -> list:
        """The endpoint's lines of the billing ledger (``BilledWorker``: epoch start and stop, $/s), copies."""
        return self.call(lambda: [replace(e) for e in self.engine.ledger.workers(endpoint_id)])

    def snapshot(self) -> dict:
        """Everything `playbook local status` shows, JSON-able."""
        def collect():
            return {"url": self.url, "pid": os.getpid(), "strict": self.strict, "endpoints": [
                {"config": ep.cfg.to_dict(), "health": ep.health(),
                 "workers": [asdict(self._info(w)) for w in ep.workers.values()]}
                for ep in self.engine.endpoints.values()]}

        return self.call(collect)


