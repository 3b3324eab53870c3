"""Shared test set-up: an isolated build folder and local-platform state per session, the fixtures
several files use (a local platform, a scripted HTTP server, executed notebooks, the Docker tier), the
``slow`` tier, and the skip rules: a missing tool (``tool`` marker, the Docker tier; tests/tools.py, a failure
with PLAYBOOK_REQUIRE_TOOLS=1), ``gpu`` tests without CUDA (a skip even in CI, which has no GPU), ``cloud_image``
unless asked for; test_live_runpod.py skips itself without RUNPOD_API_KEY."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import parallel
import pytest
import tools

# -- tiers: `make test-fast` runs `-m "not slow"` ----------------------------------------------------------

JOURNEY_FIXTURES = {"journey_run", "executed_notebook"}
REHEARSAL_FIXTURES = {"rehearsal_run"}  # the RunPod rehearsal (tests/rehearsal_child.py), in the background too
JOURNEY_TIMEOUT_S = 2400
SLOW_FIXTURES = {"platform", "rp_serve_api", "executed_notebook", "journey_run", "docker_daemon", "worker_image",
                 "registry", "rehearsal_run"}


def pytest_collection_modifyitems(config, items):
    """A test is ``slow`` when its file says so (processes, end to end), when it is a notebook or Docker
    test, or when it starts a local platform or a server process through a fixture. cloud_image tests
    (several GB of CUDA wheels) run only when asked for: ``-m cloud_image``. gpu tests skip where torch sees no
    CUDA device (CI has none: PLAYBOOK_REQUIRE_TOOLS leaves that skip alone)."""
    run_cloud = "cloud_image" in (config.option.markexpr or "")
    skip_cloud = pytest.mark.skip(reason="builds the CUDA image: run with -m cloud_image")
    for item in items:
        if (item.get_closest_marker("notebook") or item.get_closest_marker("docker")
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)
        if "cloud_image" in item.keywords and not run_cloud:
            item.add_marker(skip_cloud)
        if _reads_the_journey(item):
            # the first test to ask for the journey runs all nine notebooks (~7 min on 2 idle cores)
            item.add_marker(pytest.mark.timeout(JOURNEY_TIMEOUT_S))
    # the journey runs in the background from the end of collection (journey_run): the modules that read it go
    # last, in their order, so that everything else runs while it does
    # the same for the modules whose slow part starts early (``started_early``): they go just before
    journey_modules = {getattr(item, "module", None) for item in items if _reads_the_journey(item)}
    early_modules = {getattr(item, "module", None) for item in items if item.get_closest_marker("starts_early")}
    rank = lambda item: (getattr(item, "module", None) in journey_modules,  # noqa: E731
                         getattr(item, "module", None) in early_modules)
    items.sort(key=rank)  # stable: the order within each group stays
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_items and not _cuda_available():
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False here)"))


def _cuda_available() -> bool:
    """Whether torch sees a CUDA device: asked only when a collected test carries the ``gpu`` marker."""
    import torch

    return torch.cuda.is_available()


def pytest_runtest_setup(item):
    """``@pytest.mark.tool("chromium", "chromium-browser")``: the test needs one of these programs on PATH."""
    for mark in item.iter_markers("tool"):
        tools.need(*mark.args, why=mark.kwargs.get("why", ""))


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
def journey_run(request):
    """The journey, once per session: every notebook in order (00-08) on one local platform, in a build
    folder of its own, with "your own model" brought in through the ``model_dir`` parameter (a demo-sized
    model in a folder of another name, as ``playbook notebooks -p model_dir=...`` does). It runs in a child
    process (tests/journey_child.py) that starts when collection ends, so it overlaps with the tests that run
    before the ones reading it (those are moved to the end). Returns the runs by two-digit prefix, the model
    folder, and the journey's local state after 08 (which must be empty)."""
    import subprocess
    from pathlib import Path

    from playbook.core.settings import env
    from playbook.journey.notebooks import NotebookRun

    if env("PLAYBOOK_TEST_JOURNEY"):  # an earlier session's run, read again (no process)
        folder, proc = Path(env("PLAYBOOK_TEST_JOURNEY")), None
    else:
        if "child" not in _JOURNEY and not _attach_to_the_controllers_child(request.config):
            _start_journey(request.config)
        proc, folder = _JOURNEY["child"]
        try:
            proc.wait(timeout=JOURNEY_TIMEOUT_S - 120)
        except subprocess.TimeoutExpired:
            _stop_journey()
            pytest.fail(f"the journey did not finish in {JOURNEY_TIMEOUT_S - 120} s; its log: "
                        f"{folder / 'journey.log'}")
    report = folder / "journey.json"
    if not report.exists():
        tail = (folder / "journey.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the journey's process exited with {proc and proc.returncode} before its report:\n{tail}")
    data = json.loads(report.read_text())
    runs = {}
    for run in data["runs"]:
        run.update(executed=Path(run["executed"]), html=Path(run["html"]) if run["html"] else None)
        runs[run["name"][:2]] = NotebookRun(**run)
    return runs, Path(data["model"]), data["after"]


_JOURNEY: dict = {}  # "child": (the journey's process, its folder), once collection selects a journey test;
# "rehearsal": the rehearsal's folder; "decided": a parallel session's controller has started what its workers need


def _reads_the_journey(item) -> bool:
    """It reads the journey or the rehearsal: both run in the background, so these tests go last."""
    return bool((JOURNEY_FIXTURES | REHEARSAL_FIXTURES) & set(getattr(item, "fixturenames", ())))


def _selects(session, fixtures: set) -> bool:
    return any(fixtures & set(getattr(item, "fixturenames", ())) for item in session.items)


@pytest.hookimpl(trylast=True)  # after the tmpdir plugin's, which makes the factory share() uses
def pytest_configure(config):
    if parallel.is_controller(config):
        parallel.share(config)


@pytest.hookimpl(tryfirst=True)  # before xdist tells the controller that this worker's collection is done
def pytest_collection_finish(session):
    """Start the journey, and the slow waits of ``starts_early`` modules, as soon as the session knows it will
    need them (not for --collect-only). A worker of a parallel session (tests/parallel.py) starts neither: it
    tells the controller what the session needs, and the controller starts the child once for all workers;
    ``starts_early`` modules then start their waits in their fixture (the other worker keeps the cores busy)."""
    from playbook.core.settings import env

    if session.config.option.collectonly:
        return
    rehearsal = _selects(session, REHEARSAL_FIXTURES) and _docker_tier_here()
    journey = not env("PLAYBOOK_TEST_JOURNEY") and _selects(session, JOURNEY_FIXTURES)
    if parallel.is_worker(session.config):
        parallel.write(f"needs-{session.config.workerinput['workerid']}.json",
                       {"journey": journey, "rehearsal": rehearsal})
        return
    _start_children(session.config, journey, rehearsal)
    for module in {item.module for item in session.items if item.get_closest_marker("starts_early")}:
        _EARLY[module.__name__] = module.start_early(session.config._tmp_path_factory.mktemp("early"))


def _start_children(config, journey: bool, rehearsal: bool) -> None:
    if journey:
        _start_journey(config, with_rehearsal=rehearsal)  # one child: the journey and, beside it, the rehearsal
    elif rehearsal:
        _start_journey(config, rehearsal_only=True)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """In the controller of a parallel session: the first worker to finish collecting says what the session needs
    (every worker collects the same tests); start it, and tell the workers where it runs."""
    if "decided" in _JOURNEY:
        return
    _JOURNEY["decided"] = True
    needs = parallel.read(f"needs-{node.gateway.id}.json", timeout_s=30)
    if needs is None:  # the workers then fail the tests that read the journey, saying so
        parallel.write("child.json", {"folder": None, "rehearsal": None,
                                      "why": f"worker {node.gateway.id}'s needs file did not come within 30 s"})
        return
    _start_children(node.config, needs["journey"], needs["rehearsal"])
    if "child" in _JOURNEY:
        proc, folder = _JOURNEY["child"]
        parallel.watch(proc, "child-exit.json")
        rehearsal = _JOURNEY.get("rehearsal")
        parallel.write("child.json", {"folder": str(folder), "rehearsal": rehearsal and str(rehearsal)})
    else:
        parallel.write("child.json", {"folder": None, "rehearsal": None, "why": "no collected test reads it"})


def _attach_to_the_controllers_child(config) -> bool:
    """In a worker of a parallel session: take the child the controller started (False outside a parallel
    worker). A worker never starts a journey of its own: that would run it once per worker, beside the other."""
    from pathlib import Path

    if not parallel.is_worker(config) or parallel.shared_folder() is None:
        return False
    found = parallel.read("child.json", timeout_s=120)
    if found is None or not found["folder"]:
        pytest.fail("the controller of this parallel session started no journey (no worker's collection report "
                    f"reached it, or none asked for it): {found and found.get('why')}; run with -n 0 to see why")
    _JOURNEY["child"] = (parallel.RemoteChild("child-exit.json"), Path(found["folder"]))
    if found["rehearsal"]:
        _JOURNEY["rehearsal"] = Path(found["rehearsal"])
    return True


# -- work that starts early ------------------------------------------------------------------------------
# A module marked ``starts_early`` whose slow part runs in other processes (pip resolving the lock against the
# package index: mostly CPU, measured) defines ``start_early(folder)``, which starts them and returns them by
# name ({name: Popen}); conftest calls it when collection ends (and kills what still runs when the session ends),
# and its tests take them from the ``started_early`` fixture, so that work overlaps with the rest of the suite.
# Run alone (or with -k), the fixture starts them then.
_EARLY: dict = {}


@pytest.fixture
def started_early(request, tmp_path):
    name = request.module.__name__
    if name not in _EARLY:
        _EARLY[name] = request.module.start_early(tmp_path)
    return _EARLY[name]


def _docker_tier_here() -> bool:
    """The rehearsal's workers are containers pulled from the loopback registry: without a daemon and a registry
    its tests skip (fail, in CI) at their Docker fixtures, and the rehearsal is not started at all."""
    from playbook.image import dockerhost

    return bool(dockerhost.daemon_status().available and dockerhost.registry_address())


def _start_journey(config, with_rehearsal: bool = False, rehearsal_only: bool = False) -> None:
    """The journey's child process; ``with_rehearsal``: it runs the rehearsal beside the journey (in FOLDER/rehearsal,
    tests/rehearsal_child.py); ``rehearsal_only``: the child runs only the rehearsal."""
    import subprocess
    import sys
    from pathlib import Path

    folder = config._tmp_path_factory.mktemp("journey")  # the factory behind the tmp_path_factory fixture
    env = {**os.environ, "PLAYBOOK_BUILD_DIR": str(folder / "build"), "PLAYBOOK_STATE_DIR": str(folder / "state")}
    script, args = "journey_child.py", [str(folder)] + (["--with-rehearsal"] if with_rehearsal else [])
    if rehearsal_only:
        from rehearsal_child import rehearsal_env

        script, args = "rehearsal_child.py", [str(folder / "rehearsal")]
        env.update(rehearsal_env(folder / "rehearsal"))
    with open(folder / "journey.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name(script)), *args],
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _JOURNEY["child"] = (proc, folder)
    if with_rehearsal or rehearsal_only:
        _JOURNEY["rehearsal"] = folder / "rehearsal"


@pytest.fixture(scope="session")
def rehearsal_run(request):
    """The RunPod rehearsal's report (FOLDER/rehearsal.json, tests/rehearsal_child.py), once per session: notebooks
    00-08 with target "runpod" on a strict stand-in, run by the journey's child process beside the journey (or alone,
    when no test reads the journey), overlapping with the rest of the suite. Returns (the report, its folder)."""
    import subprocess

    if "child" not in _JOURNEY:
        _attach_to_the_controllers_child(request.config)
    if "rehearsal" not in _JOURNEY:
        pytest.fail("the rehearsal was not started at the end of collection (no test selected asks for it, or no "
                    "Docker daemon and registry answered then)")
    proc, log_folder = _JOURNEY["child"]
    folder = _JOURNEY["rehearsal"]
    try:
        proc.wait(timeout=JOURNEY_TIMEOUT_S - 120)
    except subprocess.TimeoutExpired:
        _stop_journey()
        pytest.fail(f"the rehearsal did not finish in {JOURNEY_TIMEOUT_S - 120} s; its log: {folder / 'rehearsal.log'}")
    report = folder / "rehearsal.json"
    if not report.exists():
        logs = [p for p in (folder / "rehearsal.log", log_folder / "journey.log") if p.exists()]
        tail = "".join(p.read_text(errors="replace")[-3000:] for p in logs)
        pytest.fail(f"the rehearsal's process exited with {proc.returncode} before its report:\n{tail}")
    return json.loads(report.read_text()), folder


def _stop_journey() -> None:
    """SIGTERM the journey's process group (its kernels and platform clean up), SIGKILL what is left."""
    import signal
    import subprocess

    proc, _ = _JOURNEY["child"]
    if not isinstance(proc, subprocess.Popen):  # a worker's view of the controller's child: the controller stops it
        return
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait_s)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass


def pytest_terminal_summary(terminalreporter):
    """Every log that ran the journey (or the rehearsal) says where its time went, notebook by notebook."""
    reports = [("the journey", _JOURNEY["child"][1] / "journey.json")] if "child" in _JOURNEY else []
    reports += [("the RunPod rehearsal", _JOURNEY["rehearsal"] / "rehearsal.json")] if "rehearsal" in _JOURNEY else []
    for what, report in reports:
        if report.exists():
            _summarise(terminalreporter, what, json.loads(report.read_text())["runs"])


def _summarise(terminalreporter, what: str, runs: list[dict]) -> None:
    terminalreporter.section(f"{what}, notebook by notebook (in a child process, beside the other tests)")
    for run in runs:
        state = "ok" if run["error"] is None else "FAILED"
        terminalreporter.write_line(f"{run['seconds']:7.1f} s  {run['name']}  {state}")
    terminalreporter.write_line(f"{sum(r['seconds'] for r in runs):7.1f} s  in all")


def pytest_sessionfinish(session):
    """A session that ends early (-x, Ctrl-C) leaves no journey and no early process running."""
    if "child" in _JOURNEY:
        _stop_journey()
    for procs in _EARLY.values():
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="session")
def executed_notebook(journey_run):
    """A notebook (by two-digit prefix or name) as the session's one journey ran it: every test that asserts on
    an executed notebook reads that run's copy, so the journey runs once per test session."""
    runs = journey_run[0]

    def run(name: str):
        result = runs[name[:2]]
        assert result.ok, f"{result.name} failed: {result.error} (executed copy: {result.executed})"
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
    """Skip with the reason when Docker is missing (a failure with PLAYBOOK_REQUIRE_TOOLS, as in CI)."""
    from playbook.image import dockerhost

    status = dockerhost.daemon_status()
    reason = what or (None if status.available else f"no Docker daemon reachable ({status.reason})")
    if reason:
        tools.missing(reason)


@pytest.fixture(scope="session")
def docker_or_skip():
    """``docker_or_skip(reason)`` for a test whose Docker part did not happen: a skip with the reason, a failure
    where PLAYBOOK_REQUIRE_TOOLS is set (CI)."""
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


# -- tiny pipelines of other families (tests/families.py), built once per session -------------------------

@pytest.fixture(scope="session")
def sdxl_model(tmp_path_factory):
    from families import make_sdxl

    return make_sdxl(tmp_path_factory.mktemp("families") / "tiny-sdxl")


@pytest.fixture(scope="session")
def pixart_model(tmp_path_factory):
    from families import make_pixart_sigma

    return make_pixart_sigma(tmp_path_factory.mktemp("families") / "tiny-pixart-sigma")


@pytest.fixture(scope="session")
def fp16_only_model(tmp_path_factory):
    from families import make_fp16_variant_only

    return make_fp16_variant_only(tmp_path_factory.mktemp("families") / "tiny-sd-fp16")
