"""The simulator against the real thing, briefly: a short trace replayed on the local platform (real
workers, real scaler, a sleeping handler) and predicted by the simulator fitted to that run. Generous
tolerances here; ``benchmarks/bench_cost.py`` holds the tight figures on longer traces."""

from __future__ import annotations

import pytest
from local_support import endpoint

from playbook.api.pricing import price
from playbook.api.scaling import Policy
from playbook.cost.replay import compare, fit, replay_local, worker_bills
from playbook.cost.traces import Trace
from playbook.local.remote import RemotePlatform


def test_simulator_predicts_a_local_replay(platform):  # noqa: F811
    # one job first, on an endpoint of the same worker folder, as notebook 07 replays after 06's jobs: the
    # platform's fork server for that folder (tests/workers/preimport.py) starts with its first worker, so every
    # cold start of the replay is a fork. Without it the replay's first cold start alone would include the
    # server's start: two kinds of cold start in four jobs, which is not what the simulator is fitted on
    _, warm_up = endpoint(platform, "sleep_handler", workers_max=1, idle_timeout_s=1.0)
    assert warm_up.run_sync({"sleep_s": 0}, timeout_s=120).status == "COMPLETED"
    cfg, _ = endpoint(platform, "sleep_handler", workers_max=2, idle_timeout_s=1.0, scaler_value=1.0)
    trace = Trace("burst then one", (0.0, 0.2, 0.4, 20.0), 24.0)  # the last one long after the burst: cold
    measured = replay_local(platform, cfg.id, trace, {"sleep_s": 0.5})
    assert all(r.ok for r in measured.results) and measured.billed_s > 0
    billing = platform.engine.ledger.workers(cfg.id)
    assert measured.billed_s == sum(e.billed_s() for e in billing)
    # a platform in another process shows the same ledger and settings over HTTP (notebook 07 replays so)
    remote = RemotePlatform(platform.target)
    assert remote.billed_workers(cfg.id) == platform.billed_workers(cfg.id) == billing
    assert Policy.of(remote.get_endpoint(cfg.id)) == Policy.of(cfg)
    assert worker_bills(remote, cfg.id, since_s=measured.started_s) == worker_bills(platform, cfg.id)
    settings = fit(measured, Policy.of(cfg), price("AMPERE_16").usd_per_s)
    result = compare(measured, settings, seeds=20)
    assert abs(result.billed_error) < 0.3, result.rows()
    assert abs(result.p95_error) < 0.4, result.rows()  # p95 of 4 jobs is their max: noisy
    assert result.measured_cold_starts >= 1


def test_start_contention_is_fitted_from_overlapping_cold_starts():
    from playbook.cost.replay import start_contention

    # alone: 2 s; two together: 3 s each (stretch 0.5 per other); three together: 4 s each
    spans = [(0, 2), (10, 13), (10, 13), (20, 24), (20, 24), (20, 24), (30, 32)]
    stretch, base = start_contention(spans)
    assert stretch == pytest.approx(0.5, rel=0.01)
    assert base == pytest.approx([2.0] * len(spans), rel=0.01)
    isolated = [(0, 2), (10, 12.5), (20, 21.5)]  # nothing overlaps: nothing to fit, colds unchanged
    assert start_contention(isolated) == (0.0, [2, 2.5, 1.5])
