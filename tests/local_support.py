"""Helpers for the local-platform tests: a platform per test, endpoints running the test workers
under tests/workers (the real runpod worker loop, unmodified), and process checks for orphans."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import requests

import playbook.local as local
from playbook.api.jobs import JobClient
from playbook.core.waiting import WaitTimeout, wait_for
from playbook.local import EndpointConfig

WORKERS = Path(__file__).resolve().parent / "workers"


def handler(name: str) -> Path:
    return WORKERS / f"{name}.py"


@contextlib.contextmanager
def platform_with_own_build_dir(build_dir: Path, record: bool, **options):
    """A local platform for a whole test module, with its own build folder (volumes, logs, models);
    PLAYBOOK_BUILD_DIR is restored afterwards (module fixtures cannot use monkeypatch). ``options`` go to
    ``playbook.local.start`` (``strict=True, data_file=...``: the strict stand-in)."""
    old = os.environ.get("PLAYBOOK_BUILD_DIR")
    os.environ["PLAYBOOK_BUILD_DIR"] = str(build_dir)
    try:
        with local.start(record=record, **options) as plat:
            yield plat
    finally:
        if old is None:
            os.environ.pop("PLAYBOOK_BUILD_DIR", None)
        else:
            os.environ["PLAYBOOK_BUILD_DIR"] = old


def endpoint(platform, name: str = "noop_handler", **fields) -> tuple[EndpointConfig, JobClient]:
    fields.setdefault("idle_timeout_s", 1.0)
    fields.setdefault("scaler_value", 0)
    cfg = platform.create_endpoint(EndpointConfig(name=name, handler_path=handler(name), **fields))
    return cfg, JobClient(platform.target, cfg.id)


def api(platform, endpoint_id: str, path: str, method: str = "GET", key: str | None = None, **kwargs):
    headers = {"Authorization": key if key is not None else platform.api_key}
    url = f"{platform.target.job_api_url}/{endpoint_id}/{path}"
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)


def wait_until(predicate, timeout_s: float = 20.0, pause_s: float = 0.05):
    """``wait_for`` as a test assertion: the predicate's value, or AssertionError after ``timeout_s``."""
    try:
        return wait_for(predicate, timeout_s, interval_s=pause_s, max_interval_s=pause_s)
    except WaitTimeout:
        raise AssertionError(f"condition not met within {timeout_s} s") from None


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` still exists (zombies do not count)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def add_routes(app, platform):
    """A route provider for the hook test: creates an endpoint from inside a request handler, as the
    REST control API does (platform methods run directly when called on the platform's loop)."""
    from aiohttp import web

    async def create(request):
        cfg = platform.create_endpoint(EndpointConfig(name="from-route", handler_path=handler("noop_handler")))
        platform.update_endpoint(cfg.id, workers_max=1)
        return web.json_response({"id": cfg.id, "workers_max": platform.get_endpoint(cfg.id).workers_max})

    app.router.add_post("/v2/test-provider/endpoints", create)
