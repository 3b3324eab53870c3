"""Cold-start breakdown: the demo worker's timing marks (worker/imagegen/timing.py) and the platform's
spawn and first-take marks, read back from the worker's logs over REST v2; the phases must sum to the
spawn-to-first-take time the platform measured itself (``WorkerInfo.cold_start_s``)."""

from __future__ import annotations

import pytest
from local_support import handler, platform_with_own_build_dir

from playbook.api.control import ControlClient
from playbook.api.jobs import JobClient
from playbook.local import EndpointConfig
from playbook.monitor import coldstart
from playbook.monitor import metrics as monitor

TOLERANCE_S = 0.05  # WorkerInfo rounds to the millisecond; the wall/monotonic conversion adds a little


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=False) as plat:
        yield plat


def test_demo_worker_phases_sum_to_its_measured_cold_start(platform, tmp_path):
    from playbook.weights.demo_model import make_demo_model

    make_demo_model(tmp_path / "models" / "tiny-sd")
    cfg = platform.create_endpoint(EndpointConfig(name="demo", volume_dir=tmp_path, idle_timeout_s=30))
    job = {"prompt": "a red cube", "width": 64, "height": 64, "num_inference_steps": 2}
    result = JobClient(platform.target, cfg.id).run_sync(job, timeout_s=180)
    assert result.ok, result.error
    (info,) = platform.list_workers(cfg.id)
    (start,) = monitor.cold_starts(ControlClient(platform.target, retries=0), cfg.id, [info.id])
    assert list(start.phases_s) == ["process start", "imports", "model load", "fitness check", "first job take"]
    assert all(s >= 0 for s in start.phases_s.values()) and start.phases_s["imports"] > 0
    assert abs(start.total_s - info.cold_start_s) <= TOLERANCE_S, (start, info.cold_start_s)
    split = coldstart.split_delay(result.id, result.delay_ms, start)  # its first job waited for the start
    assert split.starting_s > 0 and abs(split.capacity_s + split.starting_s + split.queueing_s - split.delay_s) < 1e-3
    assert "fitness check" in coldstart.breakdown_table([start])


def test_a_worker_without_marks_shows_one_start_phase(platform):
    cfg = platform.create_endpoint(EndpointConfig(name="noop", handler_path=handler("noop_handler"),
                                                  idle_timeout_s=30, scaler_value=0))
    assert JobClient(platform.target, cfg.id).run_sync({"value": 1}, timeout_s=60).ok
    (info,) = platform.list_workers(cfg.id)
    (start,) = monitor.cold_starts(ControlClient(platform.target, retries=0), cfg.id, [info.id])
    assert list(start.phases_s) == ["start"]
    assert abs(start.total_s - info.cold_start_s) <= TOLERANCE_S


def test_marks_merge_when_one_is_missing():
    lines = ["PLAYBOOK_TIMING phase=spawned t=100.0", "PLAYBOOK_TIMING phase=started t=100.5",
             "PLAYBOOK_TIMING phase=model_loaded t=103.0", "PLAYBOOK_TIMING phase=first_take t=104.0"]
    start = coldstart.breakdown("w", lines)
    assert start.phases_s == {"process start": 0.5, "imports + model load": 2.5,
                              "fitness check + first job take": 1.0}
    assert start.total_s == start.spawn_to_first_take_s == 4.0


def test_report_is_one_self_contained_html_file(platform, tmp_path):
    cfg = platform.create_endpoint(EndpointConfig(name="reported", handler_path=handler("noop_handler"),
                                                  idle_timeout_s=30, scaler_value=0))
    assert JobClient(platform.target, cfg.id).run_sync({"value": 1}, timeout_s=60).ok
    from playbook.doctor.report import write_report

    report = write_report(cfg.id, platform.target, tmp_path / "report.html")
    text = report.path.read_text()
    assert report.workers == 1 and report.verdict == "healthy"
    assert "data:image/png;base64," in text and "<script" not in text and "http" not in text.split("<body>")[1]
    assert "PLAYBOOK_TIMING phase=first_take" in text  # the log tail
