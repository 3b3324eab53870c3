"""Choosing endpoint settings with the simulator: a sweep over max workers, idle timeout and scaler settings,
its Pareto front (cost against p95 latency), Little's-law sizing as the special case, and the request rate
at which one always-on worker becomes cheaper than scale-to-zero.

Why a sweep rather than rules of thumb ("max workers 3-5, idle timeout 5 s"): the right idle timeout
depends on the gaps between requests and the cold start, the right max workers on the bursts; the
simulator prices each combination on the endpoint's own trace in milliseconds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from playbook.api.scaling import Policy
from playbook.core.html import table
from playbook.cost.simulate import Dist, SimResult, SimSettings, simulate
from playbook.cost.traces import Trace, poisson


@dataclass(frozen=True)
class SweepRow:
    policy: Policy
    result: SimResult
    pareto: bool = False

    def row(self) -> dict:
        p, r = self.policy, self.result
        return {"workers_max": p.workers_max, "idle_timeout_s": p.idle_timeout_s, "scaler": p.scaler_type,
                "scaler_value": p.scaler_value, "usd_per_day": r.usd_per_day, "usd_per_1k": r.usd_per_1k,
                "p50_s": r.p50_s, "p95_s": r.p95_s, "p99_s": r.p99_s, "cold_start_rate": r.cold_start_rate,
                "idle_share": r.idle_share, "pareto": self.pareto}

    @property
    def label(self) -> str:
        """The settings in a few words, distinct for every row of a sweep (its combinations are distinct)."""
        p = self.policy
        scaler = (f"queue delay {p.scaler_value:g} s" if p.scaler_type == "QUEUE_DELAY"
                  else f"request count {p.scaler_value:g}")
        return f"max {p.workers_max}, idle {p.idle_timeout_s:g} s, {scaler}"

    def shown(self) -> list:
        """The row as the notebook shows it: dollars, seconds rounded, shares as percentages."""
        p, r = self.policy, self.result
        return [p.workers_max, f"{p.idle_timeout_s:g}", p.scaler_type, f"{p.scaler_value:g}",
                f"${r.usd_per_day:.2f}", f"${r.usd_per_1k:.3f}", f"{r.p50_s:.1f}", f"{r.p95_s:.1f}", f"{r.p99_s:.1f}",
                f"{r.cold_start_rate:.1%}", f"{r.idle_share:.0%}", "yes" if self.pareto else ""]


SHOWN_HEADER = ["workers max", "idle timeout s", "scaler", "scaler value", "$ per day", "$ per 1k jobs", "p50 s",
                "p95 s", "p99 s", "cold-start share", "idle share", "Pareto"]


@dataclass(frozen=True)
class Sweep:
    trace: str
    rows: tuple[SweepRow, ...]

    @property
    def front(self) -> list[SweepRow]:
        """The Pareto-optimal rows, cheapest first."""
        return sorted((r for r in self.rows if r.pareto), key=lambda r: r.result.usd_per_day)

    def best(self, p95_target_s: float | None = None) -> SweepRow:
        """The cheapest setting whose p95 latency meets the target (else the lowest p95)."""
        ok = [r for r in self.rows if p95_target_s is None or r.result.p95_s <= p95_target_s]
        if not ok:
            return min(self.rows, key=lambda r: r.result.p95_s)
        return min(ok, key=lambda r: (r.result.usd_per_day, r.result.p95_s))

    def table_rows(self) -> list[dict]:
        return [r.row() for r in sorted(self.rows, key=lambda r: r.result.usd_per_day)]

    def _repr_html_(self) -> str:
        rows = sorted(self.rows, key=lambda r: r.result.usd_per_day)
        return table([r.shown() for r in rows], header=SHOWN_HEADER,
                     caption=f"sweep on {self.trace}: {len(rows)} settings, cheapest first, Pareto front marked")

    def plot(self, ax=None):
        """Cost against p95 latency; the Pareto front joined, each of its points labelled with its settings in
        a column beside the plot (one line each, in the order of the points' cost, so labels never overlap)."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(9, 4.5))
            fig.subplots_adjust(left=0.09, right=0.6, bottom=0.12, top=0.9)
        xs = [r.result.p95_s for r in self.rows]
        ys = [r.result.usd_per_day for r in self.rows]
        ax.scatter(xs, ys, s=14, alpha=0.5, label="settings")
        front = sorted(self.front, key=lambda r: r.result.p95_s)
        ax.plot([r.result.p95_s for r in front], [r.result.usd_per_day for r in front], "o-", color="C3",
                label="Pareto front")
        by_cost = sorted(front, key=lambda r: r.result.usd_per_day)
        for i, r in enumerate(by_cost):
            ax.annotate(r.label, (r.result.p95_s, r.result.usd_per_day), xycoords="data",
                        xytext=(1.03, (i + 0.5) / len(by_cost)), textcoords="axes fraction", fontsize=8,
                        va="center", arrowprops={"arrowstyle": "-", "color": "#999", "linewidth": 0.6})
        ax.set_xlabel("p95 latency (s)")
        ax.set_ylabel("USD per day")
        ax.set_title(f"cost against p95 latency, {len(self.rows)} settings on {self.trace}", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        return ax


def pareto_flags(points: list[tuple[float, float]]) -> list[bool]:
    """For (cost, latency) points: True where no other point is at least as good in both and better in one."""
    flags = []
    for i, (c, p) in enumerate(points):
        dominated = any((c2 <= c and p2 <= p) and (c2 < c or p2 < p) for j, (c2, p2) in enumerate(points) if j != i)
        flags.append(not dominated)
    return flags


def sweep(trace: Trace, base: SimSettings, workers_max=(1, 2, 3, 5), idle_timeouts_s=(1, 5, 10, 30, 60),
          scalers=(("QUEUE_DELAY", 4.0), ("REQUEST_COUNT", 1.0)), progress: bool = False) -> Sweep:
    """Simulate every combination on ``trace`` (same seed, so differences are the settings')."""
    from tqdm.auto import tqdm

    # RunPod v2 refuses idleTimeout on REQUEST_COUNT endpoints: those rows keep the base idle timeout
    combos = sorted({(w, float(i) if kind == "QUEUE_DELAY" else base.policy.idle_timeout_s, (kind, v))
                     for w, i, (kind, v) in itertools.product(workers_max, idle_timeouts_s, scalers)})
    results = []
    for wmax, idle, (kind, value) in tqdm(combos, desc="sweep", unit="setting", disable=not progress):
        policy = replace(base.policy, workers_max=wmax, idle_timeout_s=float(idle), scaler_type=kind,
                         scaler_value=float(value), workers_min=min(base.policy.workers_min, wmax))
        results.append((policy, simulate(trace, replace(base, policy=policy))))
    flags = pareto_flags([(r.usd_per_day, r.p95_s) for _, r in results])
    return Sweep(trace.name, tuple(SweepRow(p, r, f) for (p, r), f in zip(results, flags, strict=True)))


def littles_law_workers(rate_per_s: float, execution_s: float, target_utilisation: float = 1.0) -> int:
    """RunPod's sizing advice: busy workers L = lambda x W; at a target utilisation, ceil(L / target)."""
    return max(1, math.ceil(rate_per_s * execution_s / target_utilisation - 1e-9))


@dataclass(frozen=True)
class BreakEven:
    rate_per_s: float  # above this steady request rate one always-on worker costs less than scale-to-zero
    always_on_usd_per_day: float

    @property
    def per_hour(self) -> float:
        return self.rate_per_s * 3600


def break_even(base: SimSettings, duration_s: float = 6 * 3600, seed: int = 0, iterations: int = 18) -> BreakEven:
    """Bisect the Poisson rate at which scale-to-zero (``base``) costs as much per day as one worker kept on
    all day. Past it, workers_min = 1 is cheaper, and faster too (no cold starts)."""
    always_on = base.usd_per_s * 86_400
    lo, hi = 1e-5, 1 / max(base.execution_s.mean, 1e-3)
    for _ in range(iterations):
        mid = math.sqrt(lo * hi)
        cost = simulate(poisson(mid, duration_s, seed), base).usd_per_day
        lo, hi = (mid, hi) if cost < always_on else (lo, mid)
    return BreakEven(math.sqrt(lo * hi), always_on)


def settings_from_spec(spec, execution_s: Dist, cold_start_s: Dist, catalog=None,
                       flashboot_s: Dist | None = None, flashboot_p: float = 0.9) -> SimSettings:
    """Simulator settings for a deployment spec: its workers, scaler, execution timeout and FlashBoot, the
    price of its cheapest priced pool, and the measured (fitted) execution and cold-start distributions."""
    from playbook.deploy.guards import worker_usd_per_s

    policy = Policy(spec.workers.min, spec.workers.max, float(spec.workers.idle_timeout_s), spec.scaler.type,
                    float(spec.scaler.value))
    fast = spec.flashboot != "OFF"
    return SimSettings(policy=policy, execution_s=execution_s, cold_start_s=cold_start_s,
                       flashboot_p=flashboot_p if fast else 0.0,
                       flashboot_s=flashboot_s or Dist("constant", max(1.0, cold_start_s.mean / 5)),
                       execution_timeout_s=float(spec.execution_timeout_s),
                       usd_per_s=worker_usd_per_s(spec, catalog, worst=False))


@dataclass(frozen=True)
class Timings:
    """The execution and cold-start distributions a simulation draws from, and where they came from."""

    execution_s: Dist
    cold_start_s: Dist
    source: str
    executions: int = 0  # how many measured values each was fitted to (0: assumed)
    cold_starts: int = 0

    def sentence(self) -> str:
        def part(name: str, dist: Dist, n: int) -> str:
            return f"{name} median {dist.value:.2f} s" + (f" over {n} measured" if n else " (assumed)")

        return (f"{part('execution', self.execution_s, self.executions)}, "
                f"{part('cold start', self.cold_start_s, self.cold_starts)}: {self.source}.")


ASSUMED_EXECUTION_S, ASSUMED_COLD_START_S = 2.0, 15.0


def timings(measured: dict | None, execution_s: float | None = None, cold_start_s: float | None = None) -> Timings:
    """Execution and cold-start times for the simulator: a value given (a notebook parameter) wins; else the
    lognormal fitted to what notebook 06 measured (``measured``, recorded in the journey); else an assumption
    (2 s and 15 s, a mid-size diffusion model on a GPU) that the source says is one."""
    measured = measured or {}

    def pick(given, values, assumed, sigma):
        if given is not None:
            return Dist("lognormal", float(given), sigma), 0, "given"
        if values:
            return Dist.fit(values), len(values), "measured"
        return Dist("lognormal", assumed, sigma), 0, "assumed"

    execution, n_exec, how_exec = pick(execution_s, measured.get("execution_s"), ASSUMED_EXECUTION_S, 0.25)
    cold, n_cold, how_cold = pick(cold_start_s, measured.get("cold_start_s"), ASSUMED_COLD_START_S, 0.3)
    hows = {how_exec, how_cold}
    source = ("measured by notebook " + measured.get("source", "06")[:2] + " on the journey's endpoint"
              if hows == {"measured"} else ", ".join(sorted(hows)) +
              ("" if "measured" in hows else " (notebook 06 has not recorded measurements on this target)"))
    return Timings(execution, cold, source, n_exec, n_cold)


def recommendation_table(spec, path) -> str:
    """The recommended settings written back (a table, not a dict)."""
    from playbook.core.html import fields_table

    return fields_table({"file": str(path), "workers.min": spec.workers.min, "workers.max": spec.workers.max,
                         "workers.idle_timeout_s": spec.workers.idle_timeout_s, "scaler.type": spec.scaler.type,
                         "scaler.value": f"{spec.scaler.value:g}"}, caption="the recommendation, written back")


def recommend(spec, row: SweepRow):
    """A copy of ``spec`` with the settings of a sweep row (what a notebook writes back to a file)."""
    p = row.policy
    return spec.with_changes(workers={"min": p.workers_min, "max": p.workers_max,
                                      "idle_timeout_s": int(round(p.idle_timeout_s))},
                             scaler={"type": p.scaler_type, "value": p.scaler_value})
