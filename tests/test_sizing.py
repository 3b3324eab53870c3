"""The sweep, its Pareto front, Little's-law sizing and the always-on break-even rate."""

from __future__ import annotations

import pytest

from playbook.api.scaling import Policy
from playbook.cost import traces
from playbook.cost.simulate import Dist, SimSettings, simulate
from playbook.cost.sizing import break_even, littles_law_workers, pareto_flags, sweep

BASE = SimSettings(policy=Policy(idle_timeout_s=5), execution_s=Dist("constant", 2.0),
                   cold_start_s=Dist("constant", 8.0), usd_per_s=0.0002)


def test_pareto_flags_keep_only_undominated_points():
    assert pareto_flags([(1, 10), (2, 5), (3, 6), (1, 10), (0.5, 20)]) == [True, True, False, True, True]


def test_sweep_front_is_undominated_and_best_meets_its_target():
    result = sweep(traces.on_off(1.0, 60, 600, 4 * 3600, seed=1), BASE, workers_max=(1, 3),
                   idle_timeouts_s=(1, 30), scalers=(("QUEUE_DELAY", 1.0), ("REQUEST_COUNT", 1.0)))
    assert len(result.rows) == 6  # REQUEST_COUNT keeps one idle timeout (RunPod v2 refuses idleTimeout)
    front = result.front
    assert front and all(r.pareto for r in front)
    for r in result.rows:
        if not r.pareto:
            assert any(f.result.usd_per_day <= r.result.usd_per_day and f.result.p95_s <= r.result.p95_s
                       for f in front)
    target = sorted(r.result.p95_s for r in result.rows)[3]
    best = result.best(p95_target_s=target)
    assert best.result.p95_s <= target
    assert best.result.usd_per_day == min(r.result.usd_per_day for r in result.rows if r.result.p95_s <= target)
    assert "<table>" in result._repr_html_() and len(result.table_rows()) == 6


def test_littles_law_is_the_steady_state_of_the_simulator():
    assert littles_law_workers(2.0, 1.5) == 3 and littles_law_workers(2.0, 1.5, target_utilisation=0.5) == 6
    steady = simulate(traces.poisson(2.0, 3_000, seed=9), SimSettings(
        policy=Policy(workers_min=3, workers_max=3), execution_s=Dist("constant", 1.5),
        cold_start_s=Dist("constant", 0.0), take_gap_s=0))
    assert steady.utilisation == pytest.approx(1.0, abs=0.1)  # exactly L busy workers: barely keeps up


def test_break_even_separates_cheaper_scale_to_zero_from_cheaper_always_on():
    point = break_even(BASE, duration_s=3 * 3600, iterations=12)
    below = simulate(traces.poisson(point.rate_per_s / 3, 3 * 3600), BASE).usd_per_day
    above = simulate(traces.poisson(point.rate_per_s * 3, 3 * 3600), BASE).usd_per_day
    assert below < point.always_on_usd_per_day < above
    # sparse requests each pay cold start + execution + idle timeout: 15 s, so roughly 1 per 15 s
    assert 1 / 60 < point.rate_per_s < 1 / 5
