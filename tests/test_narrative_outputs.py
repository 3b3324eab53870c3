"""What notebooks 06 and 07 print is made from what they measured, and reads well: 06's sentences follow the
values (a cold endpoint, a cold start split, who served what), 07's trace plot shows every burst, its Pareto
labels are distinct and never overlap, and its tables carry dollars, rounded seconds and percentages (no
``8.64e+04``). The executed copies are held to the same sentences in test_notebook_claims.py."""

from __future__ import annotations

import re

import pytest

from playbook.api.jobs import Health, JobResult
from playbook.api.scaling import Policy
from playbook.cost import sizing, traces
from playbook.cost.replay import WorkerBill, bills_sentence
from playbook.cost.simulate import Dist, SimSettings, simulate
from playbook.monitor import coldstart, narrative
from playbook.monitor.metrics import WorkerStory, measurements
from playbook.monitor.timeline import Sample

SCIENTIFIC = re.compile(r"\d[eE][+-]\d")


def health(idle=0, running=0):
    return Health(jobs_completed=3, jobs_failed=0, jobs_in_progress=0, jobs_in_queue=0, jobs_retried=0,
                  workers_idle=idle, workers_running=running)


def test_the_health_sentence_says_cold_only_when_no_worker_is_listed_or_counted():
    cold = narrative.health_sentence(health(), 4.2, listed=0)
    assert cold.startswith("Zero workers after waiting 4 s") and "pays a cold start" in cold
    assert narrative.health_sentence(health(), 0.1, 0).startswith("Zero workers without waiting")
    warm = narrative.health_sentence(health(idle=1), 0.0, listed=1)
    assert warm.startswith("Not cold") and "lists 1 worker(s) and /health counts 1" in warm
    assert narrative.health_sentence(health(), 0.0, listed=1).startswith("Not cold")  # /workers still lists one


def test_the_first_job_sentence_follows_its_delay_split():
    start = coldstart.ColdStart("w1", {"imports": 1.0, "model load": 4.0}, 5.2)
    first = JobResult("j1", "COMPLETED", delay_ms=5600, execution_ms=180, worker_id="w1")
    split = coldstart.split_delay(first.id, first.delay_ms, coldstart.start_of([start], first.worker_id))
    text = narrative.first_job_sentence(first, split)
    assert "waited 5.60 s" in text and "5.00 s while its worker started" in text and "0.60 s in the queue" in text
    warm = coldstart.split_delay("j2", 40, coldstart.start_of([start], "another worker"))
    assert "found a warm worker: no cold start" in narrative.first_job_sentence(first, warm)


def test_start_of_skips_a_worker_whose_log_had_no_marks():
    assert coldstart.start_of([coldstart.ColdStart("w1", {}, None)], "w1") is None


def test_the_stories_sentence_counts_the_workers_that_served_nothing():
    served = [WorkerStory("w1", 9, 6.0, 12.0, "served 9 job(s)"), WorkerStory("w2", 4, 8.0, 12.0, "served 4 job(s)")]
    assert "Every worker served at least one job" in narrative.stories_sentence(served)
    assert "w1 9, w2 4" in narrative.stories_sentence(served)
    late = [*served, WorkerStory("w3", 0, 13.2, 12.0, "ready at 13.2 s, after the queue ran dry at 12.0 s")]
    text = narrative.stories_sentence(late)
    assert "1 served no job" in text and "w3 ready at 13.2 s" in text and "Every worker" not in text


def test_back_to_zero_sentence_reads_the_samples():
    samples = [Sample(0, 0, 0, 0, 0, 0, 0), Sample(1, 2, 1, 0, 1, 3, 1), Sample(9, 0, 0, 0, 0, 0, 0)]
    text = narrative.back_to_zero_sentence(samples, 3.4, 2)
    assert "rose to 2 worker(s)" in text and "back to 0 workers 3 s after the burst" in text


def test_measurements_keep_completed_jobs_and_measured_cold_starts():
    results = [JobResult("a", "COMPLETED", execution_ms=150), JobResult("b", "FAILED", execution_ms=10),
               JobResult("c", "COMPLETED", execution_ms=None)]
    starts = [coldstart.ColdStart("w1", {"start": 5.5}, 5.5), coldstart.ColdStart("w2", {}, None)]
    assert measurements(results, starts) == {"execution_s": [0.15], "cold_start_s": [5.5],
                                             "source": "06_test_and_monitor"}


def test_timings_come_from_06_then_parameters_then_a_named_assumption():
    recorded = {"execution_s": [0.1, 0.2, 0.4], "cold_start_s": [5.0, 6.0], "source": "06_test_and_monitor"}
    measured = sizing.timings(recorded)
    assert measured.execution_s == Dist.fit(recorded["execution_s"]) and measured.executions == 3
    assert measured.cold_start_s == Dist.fit(recorded["cold_start_s"]) and measured.cold_starts == 2
    assert "measured by notebook 06" in measured.sentence() and "over 3 measured" in measured.sentence()
    given = sizing.timings(recorded, execution_s=2.0)
    assert given.execution_s.value == 2.0 and given.executions == 0 and given.cold_starts == 2
    assumed = sizing.timings(None)
    assert assumed.execution_s.value == sizing.ASSUMED_EXECUTION_S and "has not recorded" in assumed.sentence()


def test_the_bills_sentence_says_whether_a_worker_served_nothing():
    bills = [WorkerBill("w1", 11, 0.00176, 3, 6.1, "idle timeout"),
             WorkerBill("w2", 9, 0.00144, 0, 8.0, "idle timeout")]
    text = bills_sentence(bills)
    assert text.startswith("2 worker(s) billed 20 s") and "1 served no job (w2) and still billed 9 s" in text
    assert "every one served at least one job" in bills_sentence(bills[:1])


def bursts_seen(counts: list[int]) -> int:
    """Runs of non-empty bins."""
    return sum(1 for i, c in enumerate(counts) if c and (i == 0 or not counts[i - 1]))


def test_the_trace_plot_shows_every_burst_of_a_day():
    trace = traces.from_text("bursty:0.5:120:3600", 24 * 3600)
    bin_s, counts = traces.binned(trace)
    assert len(counts) <= 150 and sum(counts) == trace.requests
    assert bursts_seen(counts) == 24  # each hour's two-minute burst is its own visible step
    ax = traces.plot(trace)
    assert ax.get_ylabel() == "requests per 10 min" and ax.get_xlabel() == "hours"
    assert "1428 requests over 24 h" in ax.get_title() or f"{trace.requests} requests over 24 h" in ax.get_title()
    width_px = ax.get_window_extent().width
    assert width_px / len(counts) >= 2  # every bin at least two pixels wide: no burst falls between pixels


def test_pareto_labels_are_distinct_and_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.text import Text

    trace = traces.from_text("bursty:0.5:120:3600", 6 * 3600)
    base = SimSettings(policy=Policy(0, 2, 2.0, "QUEUE_DELAY", 1.0), execution_s=Dist("lognormal", 0.2, 0.25),
                       cold_start_s=Dist("lognormal", 5.5, 0.3))
    result = sizing.sweep(trace, base, workers_max=(1, 2, 3, 5), idle_timeouts_s=(1, 5, 15, 60))
    labels = [r.label for r in result.rows]
    assert len(set(labels)) == len(labels)  # QUEUE_DELAY and REQUEST_COUNT rows never read the same
    ax = result.plot()
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    assert [t.get_text() for t in texts] and len(texts) == len(result.front)
    boxes = [Text.get_window_extent(t, renderer) for t in texts]  # the words, without their leader lines
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two Pareto labels overlap"
    assert boxes[0].x1 <= ax.figure.bbox.x1 + 1  # inside the figure


def test_tables_show_dollars_rounded_seconds_and_percentages():
    trace = traces.from_text("bursty:0.5:120:3600", 24 * 3600)
    day = simulate(trace, SimSettings(execution_s=Dist("lognormal", 0.2, 0.25), cold_start_s=Dist("constant", 5.5)))
    html = day._repr_html_()
    assert not SCIENTIFIC.search(html) and "24 h" in html and "%" in html and "$" in html
    shown = day.shown()
    assert shown["idle share of the spend"] == f"{day.idle_share:.0%}"
    sweep = sizing.sweep(trace.window(0, 3 * 3600), SimSettings(), workers_max=(1, 2), idle_timeouts_s=(5,))
    assert not SCIENTIFIC.search(sweep._repr_html_()) and "%" in sweep._repr_html_()


@pytest.mark.parametrize("window_s", [60.0, 120.0])
def test_peak_rate_is_the_burst_rate(window_s):
    trace = traces.Trace("t", tuple(0.5 * i for i in range(240)) + (3000.0,), 3600.0)
    assert traces.peak_rate_per_s(trace, window_s) == pytest.approx(2.0)
