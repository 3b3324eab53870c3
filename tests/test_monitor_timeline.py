"""06's timeline from what RunPod exposes: ``monitor.timeline.Recorder`` samples the REST v2 workers view and
``/health`` while a burst runs, and sees the scale-up, the workers and the return to zero as the local
platform's own records do (the platform's timeline and worker list are the reference here)."""

from __future__ import annotations

import pytest
from local_support import endpoint

import playbook.local as local
from playbook.api.control import ControlClient
from playbook.monitor import metrics, timeline

pytestmark = pytest.mark.slow  # a platform and worker processes


def test_recorder_sees_the_burst_the_workers_and_the_return_to_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    with local.start(record=False) as platform:
        cfg, jobs = endpoint(platform, "sleep_handler", workers_max=2, scaler_type="QUEUE_DELAY", scaler_value=0.5,
                             idle_timeout_s=1)
        with timeline.Recorder(ControlClient(platform.target), jobs, cfg.id, interval_s=0.2) as rec:
            batch = jobs.run_batch([{"sleep_s": 1, "value": i} for i in range(6)], concurrency=6, progress=False)
            rec.wait_for_workers(0, timeout_s=30)
        assert all(r.ok for r in batch.results)
        samples = rec.samples
        assert samples[0].workers == 0 and samples[-1].workers == 0 and rec.errors == 0
        assert max(s.workers for s in samples) == 2 and max(s.in_queue for s in samples) >= 1
        seen = rec.workers(batch.results)
        truth = platform.list_workers(cfg.id, include_exited=True)
        assert {w.id for w in seen} == {w.id for w in truth}  # no worker slipped between two looks
        assert sum(w.jobs_done for w in seen) == 6
        assert {w.id: w.jobs_done for w in seen} == {w.id: w.jobs_done for w in truth}
        assert all(w.exited_t_s is not None and w.state == "gone" for w in seen)
        assert all(w.cold_start_s is not None for w in seen if w.jobs_done)
        stories = metrics.why_idle(seen, samples)  # 06's explanation takes the sampled workers
        assert [s.worker_id for s in stories] == [w.id for w in seen]
