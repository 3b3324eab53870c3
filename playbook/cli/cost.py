"""`playbook cost estimate | sweep`: a spec's predicted dollars and latency on a traffic trace, and the sweep
over max workers, idle timeout and scaler that picks its settings. `playbook sweep`: the janitor."""

from __future__ import annotations

TRACE_HELP = ("poisson:RATE, bursty:RATE:ON_S:OFF_S, diurnal:MEAN_RATE[:PEAK], azure[:TIME_SCALE] or a CSV "
              "with a TIMESTAMP column (rates in requests/s)")


def register(sub) -> None:
    parser = sub.add_parser("cost", help="predict a spec's cost and latency on a trace; sweep its settings")
    cost_sub = parser.add_subparsers(dest="cost_command", required=True, metavar="SUBCOMMAND")
    for name, help_text in (("estimate", "simulate the spec's endpoint on a trace: $/day, $/1k, p50/p95/p99"),
                            ("sweep", "simulate max workers x idle timeout x scaler; Pareto table, recommendation")):
        p = cost_sub.add_parser(name, help=help_text)
        p.add_argument("spec", nargs="?", default="deploy/demo.toml", help="deployment spec (TOML or YAML)")
        p.add_argument("--trace", default="poisson:0.01", help=TRACE_HELP)
        p.add_argument("--hours", type=float, default=24.0, help="length of a synthetic trace (default 24)")
        p.add_argument("--execution-s", type=float, default=2.0, help="mean job execution seconds (measured)")
        p.add_argument("--cold-start-s", type=float, default=15.0, help="mean cold start seconds (measured)")
        p.add_argument("--seed", type=int, default=0)
        if name == "sweep":
            p.add_argument("--p95-target-s", type=float, help="recommend the cheapest setting under this p95")
            p.add_argument("--write-spec", help="write the spec with the recommended settings to this file")
        p.set_defaults(func=run_estimate if name == "estimate" else run_sweep)


def _inputs(args):
    from playbook.cost import traces
    from playbook.cost.simulate import Dist
    from playbook.cost.sizing import settings_from_spec
    from playbook.deploy.spec import load_spec

    spec = load_spec(args.spec)
    trace = traces.from_text(args.trace, args.hours * 3600, args.seed)
    settings = settings_from_spec(spec, Dist("lognormal", args.execution_s, 0.25),
                                  Dist("lognormal", args.cold_start_s, 0.3))
    print(f"spec: {args.spec}; trace: {trace.name}, {trace.requests} requests over {trace.duration_s / 3600:.1f} h; "
          f"execution ~{args.execution_s:g} s, cold start ~{args.cold_start_s:g} s; "
          f"worker ${settings.usd_per_s:.5f}/s (dated price table)")
    return spec, trace, settings


def run_estimate(args) -> int:
    from playbook.cost.simulate import simulate
    from playbook.deploy.guards import zero_idle_check

    spec, trace, settings = _inputs(args)
    result = simulate(trace, settings)
    for key, value in result.summary().items():
        print(f"  {key:16s} {value:.4g}" if isinstance(value, float) else f"  {key:16s} {value}")
    for line in zero_idle_check(spec).lines():
        print(f"zero-idle check: {line}")
    return 0


def run_sweep(args) -> int:
    from playbook.cost.sizing import break_even, recommend, sweep

    spec, trace, settings = _inputs(args)
    result = sweep(trace, settings, progress=True)
    rows = result.table_rows()
    cols = ["workers_max", "idle_timeout_s", "scaler", "scaler_value", "usd_per_day", "usd_per_1k", "p50_s",
            "p95_s", "cold_start_rate", "idle_share", "pareto"]
    print("  ".join(f"{c:>12s}" for c in cols))
    for row in rows:
        print("  ".join(f"{row[c]:12.4g}" if isinstance(row[c], float) else f"{row[c]!s:>12s}" for c in cols))
    best = result.best(args.p95_target_s)
    if args.p95_target_s is not None and best.result.p95_s > args.p95_target_s:
        print(f"no setting meets p95 <= {args.p95_target_s:g} s (cold starts dominate): showing the lowest p95; "
              "consider FlashBoot or workers.min = 1 (see the break-even rate)")
    print(f"recommended: workers.max = {best.policy.workers_max}, idle_timeout_s = {best.policy.idle_timeout_s:g}, "
          f"scaler {best.policy.scaler_type} {best.policy.scaler_value:g}: ${best.result.usd_per_day:.2f}/day, "
          f"p95 {best.result.p95_s:.1f} s")
    point = break_even(settings)
    print(f"break-even: above ~{point.per_hour:.0f} requests/hour one always-on worker "
          f"(${point.always_on_usd_per_day:.2f}/day) is cheaper than scale-to-zero")
    if args.write_spec:
        path = recommend(spec, best).save(args.write_spec)
        print(f"wrote {path}")
    return 0
