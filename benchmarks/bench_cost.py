"""The simulator against the local platform, side by side (not a test; prints figures).

1. Simulator speed: events/s and wall seconds for 24 h of a diurnal trace and of the Azure slice stretched.
2. Calibration: a short trace replayed on the local platform (real runpod workers running a 0.5 s sleeping
   handler, the real scaler) fits the simulator: execution and cold-start distributions, stop delay. It is
   replayed again just before each predicted trace (a shared machine's cold starts drift over minutes; the
   calibration is never the predicted trace itself), with enough isolated requests for a dozen cold starts.
3. Prediction: two other traces, sparse (Poisson) and bursty (on/off), replayed on the platform and
   predicted by the simulator, (a) with the calibrated settings (out of sample) and (b) with settings fitted
   to that run itself (the model's own error): billed worker-seconds, p50/p95 latency and cold starts,
   predicted vs measured. Targets: billed seconds within 5 %, p95 within 10 %.

    python benchmarks/bench_cost.py [--minutes 3] [--skip-replay]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playbook import local  # noqa: E402
from playbook.api.pricing import price  # noqa: E402
from playbook.api.scaling import Policy  # noqa: E402
from playbook.cost import traces  # noqa: E402
from playbook.cost.replay import compare, fit, replay_local  # noqa: E402
from playbook.cost.simulate import Dist, SimSettings, simulate  # noqa: E402
from playbook.cost.traces import Trace  # noqa: E402
from playbook.local import EndpointConfig  # noqa: E402

HANDLER = ROOT / "tests" / "workers" / "sleep_handler.py"


def speed() -> None:
    print("simulator speed")
    settings = SimSettings(execution_s=Dist("lognormal", 2.0, 0.3), cold_start_s=Dist("lognormal", 8.0, 0.3))
    for trace in (traces.diurnal(0.2, 86_400, seed=1), traces.azure_llm(time_scale=40)):
        t = time.perf_counter()
        result = simulate(trace, settings)
        wall = time.perf_counter() - t
        print(f"  {trace.name:40s} {trace.duration_s / 3600:5.1f} h  {trace.requests:6d} requests  "
              f"{result.events:7d} events  {wall:5.2f} s  {result.events / wall:9.0f} events/s")


def replayed(platform, trace: Trace, policy: Policy) -> tuple:
    cfg = platform.create_endpoint(EndpointConfig(
        name=f"bench-{trace.name[:12]}", handler_path=HANDLER, workers_min=policy.workers_min,
        workers_max=policy.workers_max, idle_timeout_s=policy.idle_timeout_s, scaler_type=policy.scaler_type,
        scaler_value=policy.scaler_value))
    t = time.perf_counter()
    measured = replay_local(platform, cfg.id, trace, {"sleep_s": 0.5})
    print(f"  replayed {trace.name} ({trace.requests} requests) in {time.perf_counter() - t:.0f} s")
    platform.delete_endpoint(cfg.id)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="length of each predicted trace")
    parser.add_argument("--skip-replay", action="store_true", help="simulator speed only")
    args = parser.parse_args()
    speed()
    if args.skip_replay:
        return
    os.environ.setdefault("PLAYBOOK_BUILD_DIR", tempfile.mkdtemp(prefix="bench-cost-"))
    usd_per_s = price("AMPERE_16").usd_per_s
    policy = Policy(workers_min=0, workers_max=3, idle_timeout_s=2.0, scaler_type="QUEUE_DELAY", scaler_value=1.0)
    duration = args.minutes * 60
    sparse = traces.poisson(1 / 12, duration, seed=11)
    sparse = Trace("sparse", sparse.arrivals_s, duration)
    bursty = traces.on_off(2.0, 10, 50, duration, seed=12)
    bursty = Trace("bursty", bursty.arrivals_s, duration)
    # two bursts (workers starting together: their contention), isolated requests 8 s apart (each after the idle
    # timeout and the stop: a cold start alone) and two pairs
    calibration = Trace("calibration", (0.0, 0.2, 0.4, 0.6, 8, 16, 24, 24.3, 32, 40, 40.2, 40.4, 40.6, 48, 56, 56.2,
                                        64, 72, 80), 88.0)
    rows = []
    with local.start(record=False) as platform:
        for trace in (sparse, bursty):
            print(f"calibration, then {trace.name}")
            settings = fit(replayed(platform, calibration, policy), policy, usd_per_s)
            print(f"  fitted: execution mean {settings.execution_s.mean:.3f} s, cold start mean "
                  f"{settings.cold_start_s.mean:.2f} s, stop delay {settings.shutdown_s:.2f} s, take gap "
                  f"{settings.take_gap_s:g} s, tick {settings.tick_s:g} s, start contention "
                  f"{settings.start_contention:.2f}")
            measured = replayed(platform, trace, policy)
            rows.append(compare(measured, settings))
            own = compare(measured, fit(measured, policy, usd_per_s))
            rows.append(replace(own, trace=f"{trace.name}*"))
    print("* = fitted to that run itself; without * = the calibration run's fit")
    print()
    header = f"{'figure':24s}" + "".join(f"{r.trace + ' sim':>14s}{r.trace + ' real':>14s}{'err':>8s}" for r in rows)
    print(header)
    for i in range(4):
        line = f"{rows[0].rows()[i][0]:24s}"
        for r in rows:
            name, sim, real, err = r.rows()[i]
            line += f"{sim:14.2f}{real:14.2f}{err:+8.1%}"
        print(line)
    for r in rows:
        ok = abs(r.billed_error) <= 0.05 and abs(r.p95_error) <= 0.10
        print(f"{r.trace}: billed {r.billed_error:+.1%} (target 5 %), p95 {r.p95_error:+.1%} (target 10 %): "
              f"{'within targets' if ok else 'OUTSIDE targets'}")


if __name__ == "__main__":
    main()
