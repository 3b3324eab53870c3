"""The image on the local platform: deployed through the spec (plan/apply over the REST v2 control API),
its workers are containers of the pushed digest, a generate job runs inside one, and after the idle
timeout no container is left. Also the container set-up (env rewrite, volume mount, clean-up)."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import time

import pytest
import requests

from playbook.core.config import REPO_ROOT, VOLUME_MOUNT
from playbook.core.settings import model_dir

pytestmark = pytest.mark.slow  # starts processes (platform, workers) or runs end to end

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"}


def test_container_env_points_into_the_mount(tmp_path):
    from playbook.local.supervision.docker_runner import container_env

    env = container_env({"MODEL_PATH": str(tmp_path / "models" / "tiny-sd"), "VOL": str(tmp_path),
                         "OTHER": str(tmp_path) + "-sibling/x", "RUNPOD_POD_ID": "w1"}, tmp_path)
    assert env == {"MODEL_PATH": f"{VOLUME_MOUNT}/models/tiny-sd", "VOL": VOLUME_MOUNT,
                   "OTHER": str(tmp_path) + "-sibling/x", "RUNPOD_POD_ID": "w1"}


@pytest.mark.docker
def test_runner_choice_follows_the_daemon(worker_image):
    from playbook.local.runtime.endpoints import EndpointConfig
    from playbook.local.supervision.runners import choose_runner

    assert choose_runner(EndpointConfig(image=worker_image.reference)).name == "docker"
    assert choose_runner(EndpointConfig(image="nobody/not-built-here:1")).name == "process"
    assert choose_runner(EndpointConfig()).name == "process"
    # a process-side fault is carried out by the launcher, so that endpoint runs as a process even with an image
    crashing = EndpointConfig(image=worker_image.reference, env={"PLAYBOOK_FAULT": "crash_loop"})
    assert choose_runner(crashing).name == "process"


def _wait_job(base: str, headers: dict, job_id: str, endpoint_id: str, timeout_s: float = 240):
    from playbook.local.supervision.docker_runner import list_containers

    images, deadline = set(), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        images |= {c.attrs["Image"] for c in list_containers(endpoint_id)}
        status = requests.get(f"{base}/{endpoint_id}/status/{job_id}", headers=headers, timeout=10).json()
        if status["status"] in TERMINAL:
            return status, images
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {timeout_s} s: {status}")


@pytest.mark.docker
def test_deploy_image_through_spec_runs_a_job_in_a_container(worker_image, pushed_worker_image, tmp_path,
                                                              monkeypatch):
    import json

    from PIL import Image

    import playbook.local
    from playbook import deploy
    from playbook.api.control import ControlClient
    from playbook.deploy.spec import load_spec
    from playbook.local.servers.control_api import volume_folder
    from playbook.local.supervision.docker_runner import list_containers, remove_containers
    from playbook.local.supervision.runners import choose_runner
    from playbook.weights.demo_model import make_demo_model

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))  # volumes and worker logs in tmp
    pushed = pushed_worker_image
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml").with_changes(
        image=pushed.reference, workers={"min": 0, "max": 1, "idle_timeout_s": 1})
    endpoint_id = None
    try:
        with playbook.local.start(record=False) as platform:
            result = deploy.apply(spec, ControlClient(platform.target))
            endpoint_id = result.endpoint_id
            make_demo_model(model_dir(volume_folder(result.volume_id)))
            cfg = platform.get_endpoint(endpoint_id)
            assert cfg.image == pushed.reference and choose_runner(cfg).name == "docker"
            assert list_containers(endpoint_id) == []  # zero idle cost: nothing runs before a job

            base, headers = platform.target.job_api_url, {"authorization": platform.target.api_key.reveal()}
            job = json.loads((REPO_ROOT / "worker" / "test_input.json").read_text())
            submitted = requests.post(f"{base}/{endpoint_id}/run", json=job, headers=headers, timeout=10).json()
            status, images = _wait_job(base, headers, submitted["id"], endpoint_id)
            assert status["status"] == "COMPLETED", status
            assert images == {worker_image.image_id}, "the job must run in a container of the pushed image"
            png = base64.b64decode(status["output"]["images"][0]["image"])
            assert Image.open(io.BytesIO(png)).size == (64, 64)
            log = next((tmp_path / "local" / "logs" / endpoint_id).glob("*.log")).read_text()
            assert "finished" in log.lower(), log[-2000:]  # the container's output

            deadline = time.monotonic() + 60  # scale to zero after the 1 s idle timeout
            while time.monotonic() < deadline and (list_containers(endpoint_id) or platform.list_workers(endpoint_id)):
                time.sleep(0.5)
            assert platform.list_workers(endpoint_id) == []
            assert list_containers(endpoint_id) == [], "a scaled-down worker left its container behind"
            deploy.destroy(spec, ControlClient(platform.target))
    finally:
        if endpoint_id:
            leftovers = list_containers(endpoint_id)
            remove_containers(endpoint_id)
            assert not leftovers, f"containers left after shutdown: {[c.name for c in leftovers]}"


@pytest.mark.docker
def test_runner_leaves_no_container_behind(worker_image, tmp_path):
    """A worker that exits by itself is reaped and removed; a running one is stopped and removed."""
    import socket

    from playbook.local.runtime.endpoints import EndpointConfig
    from playbook.local.supervision.docker_runner import DockerRunner, list_containers, remove_containers
    from playbook.weights.demo_model import make_demo_model

    endpoint = EndpointConfig(name="runner", id="runnertest", image=worker_image.reference, volume_dir=tmp_path)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections wait in the backlog, never accepted
    try:
        # no RUNPOD_WEBHOOK_GET_JOB: the SDK runs /app/test_input.json once (no model here: it fails) and exits
        exits = DockerRunner().start("w-exit", endpoint, {"MODEL_PATH": str(tmp_path / "none")}, tmp_path / "exit.log")
        # a healthy worker long-polling a platform that never answers: it runs until it is stopped
        make_demo_model(tmp_path / "models" / "tiny-sd")
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        runs = DockerRunner().start("w-run", endpoint, {
            "MODEL_PATH": str(tmp_path / "models" / "tiny-sd"), "RUNPOD_POD_ID": "w-run",
            "RUNPOD_WEBHOOK_GET_JOB": f"{url}/take/$ID?x=1", "RUNPOD_WEBHOOK_PING": f"{url}/ping?x=1",
            "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true", "RUNPOD_SKIP_GPU_CHECK": "true"}, tmp_path / "run.log")
        assert len(list_containers("runnertest")) == 2
        deadline = time.monotonic() + 90
        while exits.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not exits.alive() and exits.returncode is not None
        assert "MODEL_PATH=" in (tmp_path / "exit.log").read_text()  # the fitness check's message
        exits.kill()  # what the platform's reaper does
        assert runs.alive(), (tmp_path / "run.log").read_text()[-2000:]
        runs.stop(timeout_s=1)
        assert not runs.alive()
        assert list_containers("runnertest") == []
    finally:
        silent.close()
        left = list_containers("runnertest")
        remove_containers("runnertest")
        assert not left


@pytest.mark.docker
def test_a_platform_removes_the_containers_of_a_platform_that_died(worker_image):
    """A platform killed without its sweep (SIGKILL, a CI timeout) leaves its workers polling a closed port; the
    next platform's first container start removes them, and leaves the containers of a live platform alone."""
    import subprocess
    import sys

    from playbook.image import dockerhost
    from playbook.local.supervision import docker_runner

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    client = dockerhost.client()
    started = {owner: client.containers.run(
        worker_image.reference, ["sleep", "300"], entrypoint=[], detach=True, network_mode="host",
        labels={docker_runner.LABEL: f"w-{name}", docker_runner.LABEL_ENDPOINT: "orphantest",
                docker_runner.LABEL_OWNER: owner})
        for name, owner in (("dead", dead.stdout.strip()), ("live", str(os.getpid())))}
    try:
        registry = docker_runner.Containers()
        registry.remove_orphans_once()
        left = {c.labels[docker_runner.LABEL] for c in docker_runner.list_containers("orphantest")}
        assert left == {"w-live"}
    finally:
        for container in started.values():
            with contextlib.suppress(Exception):
                container.remove(force=True)


@pytest.mark.docker
def test_listing_skips_a_container_removed_between_list_and_inspect(worker_image, monkeypatch):
    """The daemon lists ids, then docker-py inspects each one: a worker container removed in between (its
    worker scaled down by its own platform) must be left out, not fail the listing with 404 "No such
    container" (a lone-clone CI run failed 04's image trial so, with the Docker tier and the rehearsal beside
    it). The daemon answers for real; only the order is arranged: the listing is the one made before removal."""
    from playbook.image import dockerhost
    from playbook.local.supervision import docker_runner

    client = dockerhost.client()
    labels = {docker_runner.LABEL: "w-gone", docker_runner.LABEL_ENDPOINT: "racetest",
              docker_runner.LABEL_OWNER: str(os.getpid())}
    gone = client.containers.create(worker_image.reference, ["true"], entrypoint=[], labels=labels)
    kept = client.containers.create(worker_image.reference, ["true"], entrypoint=[],
                                    labels={**labels, docker_runner.LABEL: "w-kept"})
    try:
        before = client.api.containers(all=True, filters={"label": f"{docker_runner.LABEL_ENDPOINT}=racetest"})
        assert {c["Id"] for c in before} == {gone.id, kept.id}
        gone.remove(force=True)
        monkeypatch.setattr(type(client.api), "containers", lambda self, *a, **k: before)
        left = docker_runner.list_containers("racetest")
        assert [c.id for c in left] == [kept.id]
    finally:
        for container in (gone, kept):
            with contextlib.suppress(Exception):
                container.remove(force=True)
