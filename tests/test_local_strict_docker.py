"""The strict stand-in with the real Docker daemon and the loopback registry: a worker runs its endpoint's image
pulled from the registry, or it does not start and its system log carries the pull error (never a substitute
process); a crash-looping image is restarted with back-off while its jobs wait; a queued job accepted before a
restart runs after it, in a container of the pushed digest."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest
import requests
from local_support import wait_until

import playbook.local as local
from playbook.api.jobs import JobClient
from playbook.core.config import REPO_ROOT
from playbook.core.settings import model_dir
from playbook.local.runtime.endpoints import EndpointConfig
from playbook.local.runtime.worker_logs import TIMING_PREFIX
from playbook.local.supervision.docker_runner import list_containers, remove_containers

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def _system_log(worker) -> str:
    path = Path(worker.log_path + ".system")
    return path.read_text() if path.exists() else ""


def _pushed_image(registry: str, name: str, script: str):
    """A tiny image running ``script`` (python3 -c), pushed to the loopback registry; removed afterwards."""
    from playbook.image import dockerhost

    client = dockerhost.client()
    repo, tag = f"{registry}/playbook-strict-test/{name}", secrets.token_hex(4)
    dockerfile = f"FROM {dockerhost.local_base_image()}\nCMD {json.dumps(['python3', '-c', script])}\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{repo}:{tag}", rm=True)
    client.images.push(repo, tag=tag)
    yield f"{repo}:{tag}"
    client.images.remove(f"{repo}:{tag}", force=True)


@pytest.fixture
def crash_image(registry):
    """An image whose entry point dies at once (a real crash loop)."""
    yield from _pushed_image(registry, "crash", "import sys; print('RuntimeError: the handler crashed at start'); "
                                                "sys.exit(3)")


@pytest.fixture
def sleeper_image(registry):
    """An image whose entry point never asks for a job: its worker stays initializing until it is stopped."""
    yield from _pushed_image(registry, "sleeper", "import time; time.sleep(600)")


def test_an_image_that_is_not_in_a_registry_does_not_start(registry, tmp_path, monkeypatch):
    from playbook.image import dockerhost
    from playbook.local.supervision.runners import choose_runner

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    only_here = dockerhost.local_base_image()  # in the local daemon, in no registry a RunPod host could reach
    absent = f"{registry}/playbook-strict-test/absent:{secrets.token_hex(4)}"
    assert choose_runner(EndpointConfig(image=only_here)).name == "docker"  # the lenient default runs it
    with local.start(record=False, strict=True, data_file=tmp_path / "data.json", log_dir=tmp_path / "logs") as p:
        for image in (absent, only_here):
            cfg = p.create_endpoint(EndpointConfig(name="pull", image=image, workers_max=1))
            jobs = JobClient(p.target, cfg.id)
            job_id = jobs.run({"n": 1})
            wait_until(lambda ep=cfg.id: len(p.list_workers(ep, include_exited=True)) >= 2, timeout_s=90)
            workers = p.list_workers(cfg.id, include_exited=True)
            assert {w.runner for w in workers} == {"docker"}, "strict never runs a substitute process"
            failed = [w for w in workers if w.state == "exited"]
            assert failed and all(f"\terror creating container: image pull: {image}: " in _system_log(w)
                                  for w in failed), _system_log(failed[0])
            assert jobs.status(job_id).status == "IN_QUEUE"  # RunPod keeps trying; the job waits
            assert list_containers(cfg.id) == []
            assert p.billed_workers(cfg.id) == []  # a worker that never started is never billed
            p.delete_endpoint(cfg.id)


def test_a_crash_looping_image_is_restarted_with_back_off(crash_image, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    throttled = []
    with local.start(record=False, strict=True, data_file=tmp_path / "data.json", log_dir=tmp_path / "logs") as p:
        cfg = p.create_endpoint(EndpointConfig(name="crash", image=crash_image, workers_max=1))
        jobs = JobClient(p.target, cfg.id)
        job_id = jobs.run({"n": 1})

        def four_crashed():
            throttled.append(p.health(cfg.id)["workers"]["throttled"])
            return sum(w.state == "exited" for w in p.list_workers(cfg.id, include_exited=True)) >= 4

        wait_until(four_crashed, timeout_s=150, pause_s=0.2)
        workers = p.list_workers(cfg.id, include_exited=True)
        assert {w.runner for w in workers} == {"docker"}
        crashed = [w for w in workers if w.state == "exited"][:4]
        assert all(w.exit_code == 3 for w in crashed), [(w.id, w.exit_code) for w in crashed]
        assert "RuntimeError: the handler crashed at start" in Path(crashed[0].log_path).read_text()
        # the gap before each restart grows: back-off 1, 2, 4 s after 1, 2, 3 failures (rules.backoff_s)
        gaps = [b.spawned_t_s - a.exited_t_s for a, b in zip(crashed, crashed[1:], strict=False)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9 and gaps[2] >= 3.9, gaps
        assert max(throttled) >= 1  # held-back workers show as throttled in /health
        assert jobs.status(job_id).status == "IN_QUEUE", "RunPod keeps the job while it restarts workers"
        p.delete_endpoint(cfg.id)
    assert list_containers(cfg.id) == []


def _run_job(p, endpoint_id: str) -> str:
    job = json.loads((REPO_ROOT / "worker" / "test_input.json").read_text())
    r = requests.post(f"{p.target.job_api_url}/{endpoint_id}/run", json=job, timeout=10,
                      headers={"authorization": p.api_key})
    return r.json()["id"]


def test_the_pushed_image_runs_and_a_queued_job_survives_a_restart(worker_image, pushed_worker_image, tmp_path,
                                                                    monkeypatch):
    from playbook.weights.demo_model import make_demo_model

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    data, volume = tmp_path / "state" / "data.json", tmp_path / "volume"
    make_demo_model(model_dir(volume))
    fields = {"image": pushed_worker_image.reference, "volume_dir": volume, "workers_max": 1, "idle_timeout_s": 1}
    endpoint_id = None
    try:
        with local.start(record=False, strict=True, data_file=data, log_dir=tmp_path / "logs") as first:
            cfg = first.create_endpoint(EndpointConfig(name="strict-demo", **fields))
            endpoint_id = cfg.id
            jobs = JobClient(first.target, cfg.id)
            done = jobs.wait(_run_job(first, cfg.id), timeout_s=300)
            assert done.status == "COMPLETED", done
            images = {c.attrs["Image"] for c in list_containers(cfg.id)}
            assert images <= {worker_image.image_id}, images
            (worker,) = first.list_workers(cfg.id, include_exited=True)
            started = next(float(line.rsplit("t=", 1)[1]) for line in _system_log(worker).splitlines()
                           if f"{TIMING_PREFIX} phase=container_started" in line)
            (bill,) = first.billed_workers(cfg.id)
            assert bill.start_s >= started  # the pull and the container's creation are not billed
            first.update_endpoint(cfg.id, workers_max=0)
            wait_until(lambda: first.list_workers(cfg.id) == [], timeout_s=60)
            queued = _run_job(first, cfg.id)
            assert jobs.status(queued).status == "IN_QUEUE"
        with local.start(record=False, strict=True, data_file=data, log_dir=tmp_path / "logs") as second:
            jobs = JobClient(second.target, endpoint_id)
            assert jobs.status(done.id).status == "COMPLETED"  # within RunPod's 30 minutes
            assert jobs.status(queued).status == "IN_QUEUE"
            second.update_endpoint(endpoint_id, workers_max=1)
            after = jobs.wait(queued, timeout_s=300)
            assert after.status == "COMPLETED", after
            assert {w.runner for w in second.list_workers(endpoint_id, include_exited=True)} == {"docker"}
            assert len(second.billed_workers(endpoint_id)) == 2  # the first platform's worker and this one
    finally:
        if endpoint_id:
            leftovers = list_containers(endpoint_id)
            remove_containers(endpoint_id, all_owners=True)
            assert not leftovers, [c.name for c in leftovers]


def test_no_container_outlives_its_platform(sleeper_image, tmp_path, monkeypatch):
    """The platform's own container registry (no process-wide one) holds what it started, and nothing is left
    once it has stopped."""
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    with local.start(record=False, strict=True, data_file=tmp_path / "data.json", log_dir=tmp_path / "logs") as p:
        cfg = p.create_endpoint(EndpointConfig(name="sweep", image=sleeper_image, workers_max=1))
        JobClient(p.target, cfg.id).run({"n": 1})
        wait_until(lambda: len(p.containers) == 1 and len(list_containers(cfg.id)) == 1, timeout_s=90)
        with local.start(record=False, log_dir=tmp_path / "other-logs") as other:
            assert len(other.containers) == 0  # each platform holds only what it started
    assert len(p.containers) == 0
    assert list_containers(cfg.id) == []
