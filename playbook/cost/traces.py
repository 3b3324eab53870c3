"""Traffic traces for the simulator and for replays on the local platform: synthetic (Poisson, bursty on/off,
diurnal) and a real public one (Azure's LLM inference trace 2023, a slice kept in ``playbook/data``).

Why arrival times only (execution optional): the endpoint's execution time is the model's, measured on its
own GPU and fitted (``simulate.Dist.fit``); a public trace says when requests came, not how long our model
takes. A trace may carry per-request execution seconds when they were measured together.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
AZURE_CONV = DATA / "azure_llm_conv_2023_slice.csv"


@dataclass(frozen=True)
class Trace:
    """Request arrival times in seconds from the start of the trace (sorted), over ``duration_s``."""

    name: str
    arrivals_s: tuple[float, ...]
    duration_s: float
    execution_s: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if any(b < a for a, b in zip(self.arrivals_s, self.arrivals_s[1:], strict=False)):
            raise ValueError(f"trace {self.name}: arrival times must be sorted")

    @property
    def requests(self) -> int:
        return len(self.arrivals_s)

    @property
    def rate_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def scaled(self, factor: float, name: str | None = None) -> Trace:
        """Stretch (factor > 1) or compress time: the same requests over ``factor`` times the duration."""
        return replace(self, name=name or f"{self.name} x{factor:g}", duration_s=self.duration_s * factor,
                       arrivals_s=tuple(t * factor for t in self.arrivals_s))

    def window(self, start_s: float, end_s: float) -> Trace:
        """The requests in [start_s, end_s), re-based to start at 0."""
        keep = [i for i, t in enumerate(self.arrivals_s) if start_s <= t < end_s]
        return Trace(f"{self.name}[{start_s:g}:{end_s:g}]", tuple(self.arrivals_s[i] - start_s for i in keep),
                     end_s - start_s, None if self.execution_s is None else tuple(self.execution_s[i] for i in keep))

    def per_minute(self) -> list[int]:
        """Requests per minute (for plots)."""
        counts = [0] * max(1, math.ceil(self.duration_s / 60))
        for t in self.arrivals_s:
            counts[min(len(counts) - 1, int(t // 60))] += 1
        return counts


def poisson(rate_per_s: float, duration_s: float, seed: int = 0) -> Trace:
    """Independent arrivals at a constant mean rate."""
    rng = random.Random(seed)
    out, t = [], 0.0
    while rate_per_s > 0:
        t += rng.expovariate(rate_per_s)
        if t >= duration_s:
            break
        out.append(t)
    return Trace(f"poisson {rate_per_s:g}/s", tuple(out), duration_s)


def on_off(rate_on_per_s: float, on_s: float, off_s: float, duration_s: float, seed: int = 0) -> Trace:
    """Bursts: Poisson at ``rate_on_per_s`` for ``on_s``, then silence for ``off_s``, repeated."""
    rng = random.Random(seed)
    out, period = [], on_s + off_s
    start = 0.0
    while start < duration_s:
        t = start
        while True:
            t += rng.expovariate(rate_on_per_s)
            if t >= min(start + on_s, duration_s):
                break
            out.append(t)
        start += period
    return Trace(f"bursty {rate_on_per_s:g}/s {on_s:g}s on {off_s:g}s off", tuple(out), duration_s)


def diurnal(mean_rate_per_s: float, duration_s: float = 86_400, peak_to_mean: float = 2.0, seed: int = 0,
            period_s: float = 86_400) -> Trace:
    """A daily cycle: rate(t) = mean x (1 + a sin(2 pi t / period)), a = peak_to_mean - 1 (thinning)."""
    amplitude = min(max(peak_to_mean - 1, 0.0), 1.0)
    peak = mean_rate_per_s * (1 + amplitude)
    rng = random.Random(seed)
    out, t = [], 0.0
    while peak > 0:
        t += rng.expovariate(peak)
        if t >= duration_s:
            break
        if rng.random() * peak <= mean_rate_per_s * (1 + amplitude * math.sin(2 * math.pi * t / period_s)):
            out.append(t)
    return Trace(f"diurnal {mean_rate_per_s:g}/s peak x{peak_to_mean:g}", tuple(out), duration_s)


def azure_llm(path: Path = AZURE_CONV, time_scale: float = 1.0, limit: int | None = None) -> Trace:
    """The Azure LLM inference trace 2023 (conversation), CC-BY 4.0: arrival times from its TIMESTAMP
    column, re-based to 0 and multiplied by ``time_scale`` (e.g. 20 turns its bursts into a sparse day)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(row for row in fh if not row.startswith("#")))
    if limit is not None:
        rows = rows[:limit]
    stamps = [_parse_stamp(r["TIMESTAMP"]) for r in rows]
    t0 = min(stamps)
    arrivals = sorted((s - t0) * time_scale for s in stamps)
    duration = (arrivals[-1] if arrivals else 0.0) + 1.0
    return Trace(f"azure-llm-conv-2023 x{time_scale:g}", tuple(arrivals), duration)


def _parse_stamp(text: str) -> float:
    text = text.strip()
    if "." in text:  # 2023-11-16 18:15:46.6805900 has 7 fractional digits; Python takes 6
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).timestamp()


def from_text(text: str, duration_s: float = 86_400, seed: int = 0) -> Trace:
    """A trace named on the command line: ``poisson:RATE`` (requests/s), ``bursty:RATE:ON_S:OFF_S``,
    ``diurnal:MEAN_RATE[:PEAK_TO_MEAN]``, ``azure[:TIME_SCALE]`` or a CSV file with a TIMESTAMP column."""
    kind, _, rest = text.partition(":")
    try:
        args = [float(x) for x in rest.split(":")] if rest else []
        if kind == "poisson" and len(args) == 1:
            return poisson(args[0], duration_s, seed)
        if kind == "bursty" and len(args) == 3:
            return on_off(args[0], args[1], args[2], duration_s, seed)
        if kind == "diurnal" and len(args) in (1, 2):
            return diurnal(args[0], duration_s, *(args[1:] or [2.0]), seed=seed)
        if kind == "azure" and len(args) <= 1:
            return azure_llm(time_scale=args[0] if args else 1.0)
    except ValueError:
        pass
    if Path(text).is_file():
        return azure_llm(Path(text))
    from playbook.core.errors import ConfigError

    raise ConfigError(f"--trace {text[:80]!r}: use poisson:RATE, bursty:RATE:ON_S:OFF_S, diurnal:MEAN_RATE[:PEAK], "
                      "azure[:TIME_SCALE] or a CSV file with a TIMESTAMP column (rates in requests per second).")


NICE_BINS_S = (1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 86400)


def binned(trace: Trace, max_bins: int = 150) -> tuple[float, list[int]]:
    """Requests per bin, with the smallest round bin width (1 s ... 1 day) that keeps at most ``max_bins`` bins:
    a plot a few hundred pixels wide then gives every bin a few pixels, so no burst falls between two pixels."""
    bin_s = next((b for b in NICE_BINS_S if trace.duration_s / b <= max_bins), NICE_BINS_S[-1])
    bins = max(1, math.ceil(trace.duration_s / bin_s))
    counts = [0] * bins
    for t in trace.arrivals_s:
        counts[min(bins - 1, int(t // bin_s))] += 1
    return float(bin_s), counts


def duration_text(seconds: float) -> str:
    """A duration in the largest whole unit that reads well: 45 s, 10 min, 2 h, 1.5 h."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def plot(trace: Trace, ax=None, max_bins: int = 150):
    """Requests per bin over the trace, drawn as steps (a line never vanishes between pixels the way a bar
    narrower than a pixel does); the bin width adapts to the trace's length (``binned``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 2.6), layout="constrained")
    bin_s, counts = binned(trace, max_bins)
    hours = trace.duration_s >= 2 * 3600
    scale = 3600 if hours else 60
    edges = [min(i * bin_s, trace.duration_s) / scale for i in range(len(counts) + 1)]
    ax.stairs(counts, edges, fill=True, color="#3b7dd8", alpha=0.35)
    ax.stairs(counts, edges, color="#3b7dd8", linewidth=1)
    ax.set_xlim(0, trace.duration_s / scale)
    ax.set_xlabel("hours" if hours else "minutes")
    ax.set_ylabel(f"requests per {duration_text(bin_s)}")
    ax.set_title(f"{trace.name}: {trace.requests} requests over {duration_text(trace.duration_s)}, "
                 f"{trace.rate_per_s * 3600:.0f}/h on average")
    return ax


def peak_rate_per_s(trace: Trace, window_s: float = 60.0) -> float:
    """The highest request rate over any ``window_s`` window starting at an arrival (a burst's rate)."""
    arrivals, best, j = trace.arrivals_s, 0, 0
    for i, t in enumerate(arrivals):
        while j < len(arrivals) and arrivals[j] < t + window_s:
            j += 1
        best = max(best, j - i)
    return best / window_s
