"""The simulator against closed forms (M/M/1: utilisation and mean wait; Little's law), against RunPod's
billing rule on hand-checkable traces, and the traces themselves."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from playbook.api.scaling import Policy
from playbook.cost import traces
from playbook.cost.simulate import Dist, SimSettings, simulate
from playbook.cost.traces import Trace
from playbook.monitor.metrics import percentile

ALWAYS_ONE = Policy(workers_min=1, workers_max=1, idle_timeout_s=5)


@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_mm1_utilisation_and_mean_wait_match_the_closed_form(rho):
    mu = 1.0  # one always-on worker, exponential service of mean 1 s, Poisson arrivals at rho/s
    trace = traces.poisson(rho, 30_000 / rho, seed=3)
    result = simulate(trace, SimSettings(policy=ALWAYS_ONE, execution_s=Dist("exponential", 1 / mu),
                                         cold_start_s=Dist("constant", 0.0), take_gap_s=0, seed=4))
    assert result.utilisation == pytest.approx(rho, rel=0.05)
    assert result.mean_wait_s == pytest.approx(rho / (mu - rho), rel=0.12)  # Wq = rho / (mu - lambda)


def test_littles_law_mean_busy_workers_is_rate_times_service_time():
    trace = traces.poisson(2.0, 5_000, seed=5)  # lambda x S = 2 x 1.5 = 3 busy workers on average
    result = simulate(trace, SimSettings(policy=Policy(workers_min=0, workers_max=8, idle_timeout_s=5,
                                                       scaler_type="REQUEST_COUNT", scaler_value=1),
                                         execution_s=Dist("constant", 1.5), cold_start_s=Dist("constant", 1.0),
                                         take_gap_s=0))
    assert result.busy_s / result.duration_s == pytest.approx(3.0, rel=0.03)


def test_one_job_bills_cold_start_execution_and_idle_timeout_rounded_up():
    trace = Trace("one", (0.0,), 60.0)
    settings = SimSettings(policy=Policy(idle_timeout_s=5), execution_s=Dist("constant", 1.2),
                           cold_start_s=Dist("constant", 10.0), usd_per_s=0.001)
    result = simulate(trace, settings)
    assert result.billed_s == math.ceil(10 + 1.2 + 5) == 17  # start-up + execution + idle timeout
    assert result.usd == pytest.approx(0.017) and result.cold_starts == 1 and result.cold_start_rate == 1.0
    assert result.p50_s == pytest.approx(11.2) and result.idle_share == pytest.approx(1 - 1.2 / 17)


def test_a_second_job_within_the_idle_timeout_finds_the_worker_warm():
    trace = Trace("two", (0.0, 14.0), 60.0)
    result = simulate(trace, SimSettings(policy=Policy(idle_timeout_s=5), execution_s=Dist("constant", 1.0),
                                         cold_start_s=Dist("constant", 10.0)))
    assert result.cold_starts == 1 and result.billed_s == 20  # 0..11 busy-ish, 14..15, idle until 20
    later = simulate(Trace("two", (0.0, 17.0), 60.0), SimSettings(policy=Policy(idle_timeout_s=5),
                     execution_s=Dist("constant", 1.0), cold_start_s=Dist("constant", 10.0)))
    assert later.cold_starts == 2 and later.billed_s == 16 + 16


def test_never_more_workers_than_max_and_timeouts_stop_workers():
    burst = Trace("burst", tuple(0.01 * i for i in range(50)), 120.0)
    result = simulate(burst, SimSettings(policy=Policy(workers_max=3, scaler_value=0),
                                         execution_s=Dist("constant", 1.0), cold_start_s=Dist("constant", 2.0)))
    assert result.cold_starts == 3 and result.jobs == 50
    starts = sorted(a for a, _ in result.worker_spans)
    assert all(sum(a <= t < b for a, b in result.worker_spans) <= 3 for t in starts)
    slow = simulate(Trace("slow", (0.0,), 60.0), SimSettings(execution_s=Dist("constant", 100.0),
                                                             execution_timeout_s=3.0))
    assert slow.timed_out == 1 and slow.billed_s == math.ceil(10 + 3)  # stopped at the timeout


def test_flashboot_makes_most_cold_starts_fast():
    trace = traces.poisson(0.02, 20_000, seed=1)
    base = SimSettings(policy=Policy(idle_timeout_s=1), execution_s=Dist("constant", 1.0),
                       cold_start_s=Dist("constant", 20.0), flashboot_s=Dist("constant", 1.0))
    slow, fast = simulate(trace, base), simulate(trace, base.__class__(**{**base.__dict__, "flashboot_p": 0.9}))
    assert fast.p50_s < 3 < slow.p50_s and fast.usd < slow.usd


def test_traces_have_their_rates_and_the_azure_slice_loads():
    assert traces.poisson(0.5, 20_000, seed=2).rate_per_s == pytest.approx(0.5, rel=0.03)
    bursty = traces.on_off(2.0, 60, 540, 6_000, seed=2)
    assert bursty.rate_per_s == pytest.approx(0.2, rel=0.1)
    assert all(t % 600 < 60 for t in bursty.arrivals_s)
    day = traces.diurnal(0.1, 86_400, peak_to_mean=2.0, seed=2)
    per_min = day.per_minute()
    assert day.rate_per_s == pytest.approx(0.1, rel=0.05) and sum(per_min[300:420]) > 3 * sum(per_min[1020:1140])
    azure = traces.azure_llm()
    assert azure.requests == 2000 and 300 < azure.duration_s < 600
    assert azure.scaled(10).duration_s == pytest.approx(azure.duration_s * 10)


def test_distributions_fit_measurements():
    fitted = Dist.fit([1.0, 2.0, 4.0])
    assert fitted.kind == "lognormal" and fitted.value == pytest.approx(2.0)
    assert Dist.fit([3.0, 5.0], kind="empirical").mean == 4.0
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([5, 1, 3, 2, 4], 100) == 5


def test_workers_starting_together_stretch_each_others_cold_start():
    burst = Trace("burst", (0.0, 0.01, 0.02), 60.0)
    base = SimSettings(policy=Policy(workers_max=3, scaler_value=0, idle_timeout_s=1),
                       execution_s=Dist("constant", 1.0), cold_start_s=Dist("constant", 2.0))
    alone, shared = simulate(burst, base), simulate(burst, replace(base, start_contention=0.5))
    assert alone.cold_starts == shared.cold_starts == 3
    assert alone.p50_s == pytest.approx(3.0, abs=0.05)
    assert shared.p50_s > alone.p50_s + 0.9  # the others starting with it stretch it by half each
    one = Trace("one", (0.0,), 60.0)  # a worker starting alone is not stretched
    assert simulate(one, replace(base, start_contention=0.5)).p50_s == simulate(one, base).p50_s
