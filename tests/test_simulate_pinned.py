"""The simulator's exact outputs on a few seeded traces, pinned from the closure-based ``simulate()`` of branch
h19 (computed before it became the event-driven ``Simulation``), so a reshaping that changes any decision, any
random draw's order or any float operation fails here. The other simulator tests check the model against
closed forms and RunPod's billing rule; this one checks that the code's behaviour did not move.

If the model is changed on purpose, recompute these numbers and say why in the commit."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from playbook.api.scaling import Policy
from playbook.cost import traces
from playbook.cost.simulate import Dist, SimSettings, simulate
from playbook.cost.traces import Trace

LOGNORMAL = SimSettings(execution_s=Dist("lognormal", 2.0, 0.3), cold_start_s=Dist("lognormal", 8.0, 0.3), seed=1)


def _given_execution() -> Trace:
    day = traces.diurnal(0.05, 7200, seed=8, period_s=3600)
    return Trace("given", day.arrivals_s, day.duration_s, tuple(0.5 + (i % 7) * 0.9 for i in range(day.requests)))


CASES = {
    # QUEUE_DELAY with the default policy
    "poisson_queue_delay": (lambda: traces.poisson(0.3, 3600, seed=3), LOGNORMAL),
    # bursts: FlashBoot draws, start contention (superseded READY events), the scaler's tick, a stop delay
    "bursty_flashboot_contention_tick": (lambda: traces.on_off(2.0, 10, 50, 1800, seed=4), replace(
        LOGNORMAL, flashboot_p=0.6, flashboot_s=Dist("exponential", 1.5), start_contention=0.4, tick_s=0.1,
        shutdown_s=2.0, seed=5, policy=Policy(workers_max=4, idle_timeout_s=3, scaler_value=1.0))),
    # REQUEST_COUNT, a kept worker, jobs past the execution timeout (their workers stopped)
    "request_count_min1_timeouts": (lambda: traces.poisson(1.0, 1200, seed=6), replace(
        LOGNORMAL, execution_s=Dist("exponential", 1.5), execution_timeout_s=4.0, seed=7,
        policy=Policy(workers_min=1, workers_max=5, idle_timeout_s=10, scaler_type="REQUEST_COUNT",
                      scaler_value=2))),
    # execution times carried by the trace, an empirical cold start, the SDK's take gap (FREE events)
    "diurnal_given_execution_tick": (_given_execution, replace(
        LOGNORMAL, tick_s=0.5, take_gap_s=0.3, seed=9, cold_start_s=Dist("empirical", samples=(4.0, 6.5, 11.0)),
        policy=Policy(workers_max=2, idle_timeout_s=20))),
    # no jobs: min workers billed to the trace's end
    "empty_min2": (lambda: Trace("empty", (), 30.0), replace(LOGNORMAL, policy=Policy(workers_min=2, workers_max=2))),
}

NAN = math.nan
PINNED = {  # computed by h19's simulate() (commit 620d63e)
    "poisson_queue_delay": dict(
        jobs=1083, billed_s=6483, p50_s=3.689958170727593, p95_s=11.229695850189819, p99_s=13.00111827817674,
        cold_starts=243, cold_start_rate=0.24376731301939059, timed_out=0, busy_s=2272.2492028960705,
        mean_wait_s=2.7294391068944024, events=3440, spans=243, last_span=(3574.575037497397, 3603.339914016483)),
    "bursty_flashboot_contention_tick": dict(
        jobs=546, billed_s=2721, p50_s=7.4461586139162, p95_s=14.566545236055944, p99_s=19.07586743822549,
        cold_starts=120, cold_start_rate=0.23626373626373626, timed_out=0, busy_s=1148.527248709155,
        mean_wait_s=5.996446177897122, events=1651, spans=120, last_span=(1741.461467204871, 1767.2)),
    "request_count_min1_timeouts": dict(
        jobs=1177, billed_s=4019, p50_s=2.359178383265998, p95_s=9.978774892474576, p99_s=12.631690401749118,
        cold_starts=96, cold_start_rate=0.22854715378079865, timed_out=92, busy_s=1605.8805263280271,
        mean_wait_s=1.947048214407377, events=3281, spans=96, last_span=(1196.2781846021135, 1213.5711049698496)),
    "diurnal_given_execution_tick": dict(
        jobs=356, billed_s=5548, p50_s=4.5, p95_s=13.698528787812757, p99_s=16.721373196078638,
        cold_starts=98, cold_start_rate=0.2893258426966292, timed_out=0, busy_s=1136.4999999999998,
        mean_wait_s=2.3272103395026447, events=1243, spans=98, last_span=(7116.0, 7194.0)),
    "empty_min2": dict(
        jobs=0, billed_s=60, p50_s=NAN, p95_s=NAN, p99_s=NAN, cold_starts=2, cold_start_rate=0.0, timed_out=0,
        busy_s=0.0, mean_wait_s=NAN, events=4, spans=2, last_span=(0.0, 30.0)),
}


def _same(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("name", sorted(CASES))
def test_seeded_traces_give_the_pinned_outputs_exactly(name):
    make_trace, settings = CASES[name]
    r = simulate(make_trace(), settings)
    got = dict(jobs=r.jobs, billed_s=r.billed_s, p50_s=r.p50_s, p95_s=r.p95_s, p99_s=r.p99_s,
               cold_starts=r.cold_starts, cold_start_rate=r.cold_start_rate, timed_out=r.timed_out,
               busy_s=r.busy_s, mean_wait_s=r.mean_wait_s, events=r.events, spans=len(r.worker_spans),
               last_span=tuple(r.worker_spans[-1]) if r.worker_spans else None)
    differ = {k: (got[k], v) for k, v in PINNED[name].items() if not _same(got[k], v)}
    assert not differ, f"{name}: (got, pinned) {differ}"
