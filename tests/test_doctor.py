"""The doctor against a labelled set of broken endpoints, jobs and specs, each made with the local
platform's fault switch (env PLAYBOOK_FAULT) or for real (an empty volume, a PATCH after the workers
started, a template edited after create, a bad SDK pin, costly settings). The verdict must be right on at
least 9 of every 10 cases, each with evidence; look-alikes are told apart (no stock vs a crash loop that
reads RUNNING; hung vs slow)."""

from __future__ import annotations

import time

import pytest
from local_support import handler, platform_with_own_build_dir, wait_until

from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.core.config import REPO_ROOT
from playbook.deploy.spec import load_spec
from playbook.doctor import diagnose as doctor
from playbook.local import EndpointConfig

FAST = {"idle_timeout_s": 1.0, "scaler_value": 0}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=True) as plat:  # the CLI finds it
        yield plat


def _endpoint(platform, name, fault=None, handler_name="noop_handler", env=None, **fields):
    env = {**(env or {}), **({"PLAYBOOK_FAULT": fault} if fault else {})}
    cfg = platform.create_endpoint(EndpointConfig(name=name, handler_path=handler(handler_name), env=env,
                                                  **{**FAST, **fields}))
    return cfg.id, JobClient(platform.target, cfg.id)


@pytest.fixture(scope="module")
def cases(platform, tmp_path_factory):
    """[(subject, expected verdict)]; everything broken at once, then given time to show its symptom."""
    out = []
    for fault, name in (("no_stock", "capacity"), ("image_pull", "image_pull"),
                        ("cuda_mismatch", "cuda_mismatch")):
        eid, jobs = _endpoint(platform, f"fault-{fault}", fault)
        out.append(((eid, jobs.run({"value": 1})), name))
    eid, jobs = _endpoint(platform, "fault-crash", "crash_loop")
    out.append(((eid, jobs.run({"value": 1})), "crash_loop"))  # the platform gives up after 3 failed starts
    eid, _ = _endpoint(platform, "fault-crash-min", "crash_loop", workers_min=1)  # min 1: it restarts forever
    out.append((eid, "crash_loop"))
    eid, jobs = _endpoint(platform, "fault-oom", "oom", "sleep_handler")
    out.append(((eid, jobs.run({"sleep_s": 0.1})), "out_of_memory"))
    # its start takes 5 x 20 + 10 s: UNHEALTHY from 20 s on, for 90 s (then it serves the job)
    slow_init, jobs = _endpoint(platform, "fault-slow-init", "slow_init", env={"RUNPOD_INIT_TIMEOUT": "20"})
    jobs.run({"value": 1})
    out.append((slow_init, "init_timeout"))
    empty = tmp_path_factory.mktemp("empty-volume")
    cfg = platform.create_endpoint(EndpointConfig(name="no-model", volume_dir=empty, **FAST))
    no_model = JobClient(platform.target, cfg.id)
    job_id = no_model.run({"prompt": "a cat", "steps": 2})
    out.append(((cfg.id, job_id), "models_missing"))
    eid, jobs = _endpoint(platform, "fault-hang", "hang", "sleep_handler")
    out.append(((eid, jobs.run({"sleep_s": 0.1})), "hung"))
    eid, jobs = _endpoint(platform, "slow-steps", None, "steps_handler")
    out.append(((eid, jobs.run({"steps": 400, "step_s": 0.5})), "healthy_but_slow"))  # 200 s
    eid, jobs = _endpoint(platform, "healthy")
    out.append(((eid, jobs.run_sync({"value": 1}, timeout_s=60).id), "healthy"))

    control = ControlClient(platform.target, retries=0)
    eid, jobs = _endpoint(platform, "stale", handler_name="sleep_handler", workers_min=1)
    wait_until(lambda: control.endpoint_workers(eid)["summary"]["idle"] == 1, timeout_s=60)
    jobs.run({"sleep_s": 300})  # busy when the release comes: it finishes its job on the old release (RunPod's
    wait_until(lambda: control.endpoint_workers(eid)["summary"]["running"] == 1, timeout_s=60)  # rolling release)
    control.update_endpoint(eid, {"image": "local/playbook-worker:2"})  # a new release; the worker is older
    out.append((eid, "stale_release"))
    tpl = control.create_template({"name": "templated", "image": "local/playbook-worker:1", "serverless": True})
    ep = control.create_endpoint({"name": "templated", "type": "QUEUE", "templateId": tpl["id"],
                                  "gpu": {"pools": ["AMPERE_16"]}, "workers": {"min": 0, "max": 1},
                                  "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}})
    control.update_template(tpl["id"], {"image": "local/playbook-worker:2"})  # never reaches the endpoint
    out.append((ep["id"], "stale_release"))

    demo = load_spec(REPO_ROOT / "deploy" / "demo.toml")
    out.append((demo.with_changes(name="costly", gpus=["HOPPER_141"],
                                  workers={"min": 2, "max": 20, "idle_timeout_s": 3600}), "runaway_cost"))
    time.sleep(6)  # let each fault show its symptom (crash loops die, the hung job runs past hung_after_s)
    # and wait for the two symptoms that take a worker's start to show, as a user would (a loaded machine starts
    # the demo worker slowly): a worker UNHEALTHY (the platform logs it when its workers view shows it), the job
    # without its model ended
    wait_until(lambda: any(w["status"] == "UNHEALTHY" for w in control.endpoint_workers(slow_init)["workers"]),
               timeout_s=60, pause_s=0.5)
    wait_until(lambda: no_model.status(job_id).terminal, timeout_s=180, pause_s=0.5)
    return out


def _diagnose(platform, subject):
    if isinstance(subject, tuple):
        subject = f"{subject[0]}/{subject[1]}"
    return doctor.Doctor(platform.target, hung_after_s=3.0, slow_delay_s=30).diagnose(subject)


def test_verdicts_on_the_labelled_set(platform, cases):
    results = {}
    for subject, expected in cases:
        d = _diagnose(platform, subject)
        results[str(subject)[:60]] = (expected, d)
        assert d.evidence and d.evidence != ["no evidence found"], str(d)
        assert d.fix and d.verdict in doctor.rules.VERDICTS
    for key, (expected, d) in results.items():
        print(f"{'ok ' if d.verdict == expected else 'BAD'} {expected:18} {d.verdict:18} {d.api_calls} calls {key}")
    wrong = {k: str(d) for k, (expected, d) in results.items() if d.verdict != expected}
    right = len(results) - len(wrong)
    assert right >= 0.9 * len(results), f"{right}/{len(results)} right; wrong: {wrong}"


def test_no_stock_and_a_crash_loop_that_reads_running_are_told_apart(platform, cases):
    crash = next(s for s, v in cases if v == "crash_loop" and isinstance(s, str))
    capacity = next(s for s, v in cases if v == "capacity")
    d_crash, d_capacity = _diagnose(platform, crash), _diagnose(platform, capacity)
    assert (d_crash.verdict, d_capacity.verdict) == ("crash_loop", "capacity"), f"{d_crash}\n{d_capacity}"
    assert any("THROTTLED" in e for e in d_capacity.evidence)
    assert any("Traceback" in e or "before taking a job" in e or "exited with code" in e for e in d_crash.evidence)


def test_hung_and_slow_jobs_are_told_apart(platform, cases):
    hung = next(s for s, v in cases if v == "hung")
    slow = next(s for s, v in cases if v == "healthy_but_slow")
    d_hung, d_slow = _diagnose(platform, hung), _diagnose(platform, slow)
    assert (d_hung.verdict, d_slow.verdict) == ("hung", "healthy_but_slow"), f"{d_hung}\n{d_slow}"
    assert any("silent" in e for e in d_hung.evidence) and any("progress" in e for e in d_slow.evidence)


def test_settings_are_read_fresh_and_a_poll_costs_a_few_calls(platform, cases):
    """No cache for the doctor's life: a PATCH (max workers 0) shows at the next poll."""
    capacity = next(s for s, v in cases if v == "capacity")
    doc = doctor.Doctor(platform.target)
    first = doc.diagnose(capacity[0])
    assert first.verdict == "capacity"
    # the endpoint, the workers view, one worker's logs, the templates and (work waits) the catalog
    assert first.api_calls <= 5, first
    eid, jobs = _endpoint(platform, "fresh-settings")
    assert doc.diagnose(eid).verdict == "healthy"
    ControlClient(platform.target, retries=0).update_endpoint(eid, {"workers": {"min": 0, "max": 0}})
    job_id = jobs.run({"value": 1})
    again = doc.diagnose(f"{eid}/{job_id}")
    assert again.verdict == "no_workers" and any("workers.max 0" in e for e in again.evidence), str(again)


def test_sdk_bug_is_found_in_a_spec(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("runpod==1.9.0\ndiffusers==0.42.1\n")
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml")
    assert spec.volume is not None
    d = doctor.spec_diagnosis(spec, requirements=requirements, check_image=False)
    assert d.verdict == "sdk_bug" and "1.9.0" in " ".join(d.evidence)
    requirements.write_text("runpod==1.12.0\n")
    assert doctor.spec_diagnosis(spec, requirements=requirements, check_image=False).verdict == "healthy"


def test_cli_gives_the_same_verdicts_and_stops_a_crash_loop(platform, cases, capsys):
    from playbook.cli import main

    crash = next(s for s, v in cases if v == "crash_loop" and isinstance(s, str))
    hung = next(s for s, v in cases if v == "hung")
    assert main(["doctor", f"{hung[0]}/{hung[1]}", "--target", "local", "--hung-after-s", "3"]) == 2
    assert "hung" in capsys.readouterr().out.splitlines()[0]
    assert main(["doctor", hung[1], "--endpoint", hung[0], "--target", "local", "--hung-after-s", "3"]) == 2
    assert "hung" in capsys.readouterr().out.splitlines()[0]
    assert main(["doctor", crash, "--target", "local", "--stop-crash-loop"]) == 2
    out = capsys.readouterr().out
    assert ": crash_loop (" in out.splitlines()[0] and "set workers max to 0" in out
    assert platform.get_endpoint(crash).workers_max == 0
    wait_until(lambda: not platform.list_workers(crash), timeout_s=20)
    assert main(["doctor", str(REPO_ROOT / "deploy" / "demo.toml")]) == 0
    assert ": healthy (" in capsys.readouterr().out
    assert main(["doctor", hung[1], "--target", "local"]) == 1  # a job id alone: both forms are named
    err = capsys.readouterr().err
    assert "is a job id" in err and f"ENDPOINT_ID/{hung[1]}" in err
    assert main(["doctor", "--verdicts"]) == 0
    listed = capsys.readouterr().out
    assert all(v in listed for v in doctor.rules.VERDICTS)


def test_an_unknown_fault_name_is_refused():
    from playbook.core.errors import ConfigError

    with pytest.raises(ConfigError, match="PLAYBOOK_FAULT"):
        EndpointConfig(name="x", env={"PLAYBOOK_FAULT": "gremlins"})


@pytest.mark.docker
def test_an_arm64_image_is_wrong_architecture_as_a_spec_and_as_an_endpoint(platform, docker_daemon):
    from playbook.image import build

    image = build.make_foreign_image("arm64", "runpod-playbook-doctor:arm64")
    spec = load_spec(REPO_ROOT / "deploy" / "demo.toml").with_changes(image=image)
    d = doctor.spec_diagnosis(spec)
    assert d.verdict == "wrong_architecture" and "linux/arm64" in " ".join(d.evidence)

    eid, jobs = _endpoint(platform, "arm64", image=image)  # the Docker runner refuses to start it
    job_id = jobs.run({"value": 1})
    doc = doctor.Doctor(platform.target)
    found = wait_until(lambda: (x := doc.diagnose(f"{eid}/{job_id}")).verdict == "wrong_architecture" and x,
                       timeout_s=60, pause_s=0.5)
    assert any("exec format error" in e for e in found.evidence), str(found)
