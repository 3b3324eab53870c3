"""Shared test set-up: an isolated build folder and local-platform state per session, and the
skip rules for the tiers (docker, gpu, live_runpod)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    """cloud_image tests (several GB of CUDA wheels) run only when asked for: ``-m cloud_image``."""
    if "cloud_image" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="builds the CUDA image: run with -m cloud_image")
    for item in items:
        if "cloud_image" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def executed_notebook():
    """Run a notebook (by name or prefix) once per session with its default parameters; later calls
    return the same result, so the generic run in test_notebooks.py and the tests that check a
    notebook's glued values share one execution."""
    from playbook import notebooks
    from playbook.config import build_dir

    results = {}

    def run(name: str) -> notebooks.NotebookRun:
        [path] = notebooks.select([name])
        if path.stem not in results:
            results[path.stem] = notebooks.run_notebook(path, out_dir=build_dir() / "test-notebooks")
        result = results[path.stem]
        assert result.ok, f"{path.name} failed: {result.error} (executed copy: {result.executed})"
        return result

    return run


# -- the docker tier (scripts/services.sh starts the daemon, the registry and the local base image) ------

def _docker_or_skip(what: str = "") -> None:
    """Skip with the reason when Docker is missing; fail instead where PLAYBOOK_REQUIRE_DOCKER is set (CI)."""
    from playbook import dockerhost

    status = dockerhost.daemon_status()
    reason = what or (None if status.available else f"no Docker daemon reachable ({status.reason})")
    if reason:
        if os.environ.get("PLAYBOOK_REQUIRE_DOCKER"):
            pytest.fail(f"{reason}; PLAYBOOK_REQUIRE_DOCKER is set (as in CI), so this is an error")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_daemon():
    from playbook import dockerhost

    _docker_or_skip()
    return dockerhost.daemon_status()


@pytest.fixture(scope="session")
def worker_image(docker_daemon):
    """The local worker image, built once per session (warm layer cache: seconds; cold: a few minutes)."""
    from playbook import build, dockerhost

    base = dockerhost.local_base_image()
    if not dockerhost.image_exists(base):
        _docker_or_skip(f"the local base image {base} is missing: run scripts/services.sh")
    return build.build_image(build.local_settings(), progress=False)


@pytest.fixture(scope="session")
def registry(docker_daemon) -> str:
    from playbook import dockerhost

    address = dockerhost.registry_address()
    if not address:
        _docker_or_skip("no registry on loopback: run scripts/services.sh (or set PLAYBOOK_REGISTRY)")
    return address


@pytest.fixture(scope="session")
def pushed_worker_image(worker_image, registry):
    from playbook import registry as registries

    return registries.push(worker_image.reference, registry, progress=False)
