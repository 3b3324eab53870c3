"""Shared test set-up: an isolated build folder and local-platform state per session, the fixtures
several files use (a local platform, a scripted HTTP server, executed notebooks, the Docker tier), the
``slow`` tier, and the skip rules for the tiers (docker, gpu, live_runpod)."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# -- tiers: `make test-fast` runs `-m "not slow"` ----------------------------------------------------------

SLOW_FIXTURES = {"platform", "rp_serve_api", "executed_notebook", "docker_daemon", "worker_image", "registry"}


def pytest_collection_modifyitems(config, items):
    """A test is ``slow`` when its file says so (processes, end to end), when it is a notebook or Docker
    test, or when it starts a local platform or a server process through a fixture. cloud_image tests
    (several GB of CUDA wheels) run only when asked for: ``-m cloud_image``."""
    run_cloud = "cloud_image" in (config.option.markexpr or "")
    skip_cloud = pytest.mark.skip(reason="builds the CUDA image: run with -m cloud_image")
    for item in items:
        if (item.get_closest_marker("notebook") or item.get_closest_marker("docker")
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
        if "cloud_image" in item.keywords and not run_cloud:
            item.add_marker(skip_cloud)


@pytest.fixture(scope="session", autouse=True)
def _isolated_state(tmp_path_factory):
    """Keep tests from touching a developer's running local platform or ~/.cache."""
    state = tmp_path_factory.mktemp("state")
    old = os.environ.get("PLAYBOOK_STATE_DIR")
    os.environ["PLAYBOOK_STATE_DIR"] = str(state)
    yield state
    if old is None:
        os.environ.pop("PLAYBOOK_STATE_DIR", None)
    else:
        os.environ["PLAYBOOK_STATE_DIR"] = old


@pytest.fixture
def platform(tmp_path, monkeypatch):
    """A local platform of its own for one test, with its build folder under the test's tmp_path."""
    import playbook.local as local

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    with local.start(record=False, log_dir=tmp_path / "logs") as p:
        yield p


@pytest.fixture(scope="session")
def executed_notebook():
    """Run a notebook (by name or prefix) once per session with its default parameters; later calls
    return the same result, so the generic run in test_notebooks.py and the tests that check a
    notebook's glued values share one execution."""
    from playbook.core.config import build_dir
    from playbook.journey import notebooks

    results = {}

    def run(name: str) -> notebooks.NotebookRun:
        [path] = notebooks.select([name])
        if path.stem not in results:
            results[path.stem] = notebooks.run_notebook(path, out_dir=build_dir() / "test-notebooks")
        result = results[path.stem]
        assert result.ok, f"{path.name} failed: {result.error} (executed copy: {result.executed})"
        return result

    return run


# -- a scripted HTTP server (for the HTTP layer's retries and errors) -------------------------------------

class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body, headers) of the server's script."""

    def _answer(self):
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        status, body, headers = self.server.script.pop(0)
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in {"Content-Type": "application/problem+json" if status >= 400 else "application/json",
                     **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    """A loopback HTTP server answering from ``server.script`` (a list of (status, body, headers)); what
    it was asked is in ``server.seen`` as (method, path, Authorization)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    httpd.script, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# -- the docker tier (scripts/services.sh starts the daemon, the registry and the local base image) ------

def _docker_or_skip(what: str = "") -> None:
    """Skip with the reason when Docker is missing; fail instead where PLAYBOOK_REQUIRE_DOCKER is set (CI)."""
    from playbook.image import dockerhost

    status = dockerhost.daemon_status()
    reason = what or (None if status.available else f"no Docker daemon reachable ({status.reason})")
    if reason:
        if os.environ.get("PLAYBOOK_REQUIRE_DOCKER"):
            pytest.fail(f"{reason}; PLAYBOOK_REQUIRE_DOCKER is set (as in CI), so this is an error")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_or_skip():
    """``docker_or_skip(reason)`` for a test whose Docker part did not happen: a skip with the reason, a failure
    where PLAYBOOK_REQUIRE_DOCKER is set (CI)."""
    return _docker_or_skip


@pytest.fixture(scope="session")
def docker_daemon():
    from playbook.image import dockerhost

    _docker_or_skip()
    return dockerhost.daemon_status()


@pytest.fixture(scope="session")
def worker_image(docker_daemon):
    """The local worker image, built once per session (warm layer cache: seconds; cold: a few minutes)."""
    from playbook.image import build, dockerhost

    base = dockerhost.local_base_image()
    if not dockerhost.image_exists(base):
        _docker_or_skip(f"the local base image {base} is missing: run scripts/services.sh")
    return build.build_image(build.local_settings(), progress=False)


@pytest.fixture(scope="session")
def registry(docker_daemon) -> str:
    from playbook.image import dockerhost

    address = dockerhost.registry_address()
    if not address:
        _docker_or_skip("no registry on loopback: run scripts/services.sh (or set PLAYBOOK_REGISTRY)")
    return address


@pytest.fixture(scope="session")
def pushed_worker_image(worker_image, registry):
    from playbook.image import registry as registries

    return registries.push(worker_image.reference, registry, progress=False)
