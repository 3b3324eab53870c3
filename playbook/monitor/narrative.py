"""The sentences notebook 06 prints about what it measured, each made from the measured values.

Why: a sentence typed into a notebook ("no worker runs yet", "the second worker served nothing") is true on
the run its author saw and false on the next; the state of a serverless endpoint depends on timing (a warm
worker from the previous notebook, which worker drained a burst). So the notebook prints these instead, and
the tests hold each one against the values glued beside it.
"""

from __future__ import annotations


def workers_counted(health) -> int:
    """Workers ``/health`` counts (idle, running, initializing, throttled, unhealthy: ``ready`` is idle+running)."""
    return (health.workers_idle + health.workers_running + health.workers_initializing + health.workers_throttled
            + health.workers_unhealthy)


def health_sentence(health, waited_s: float, listed: int) -> str:
    """What ``/health`` (and ``/workers``) said once the notebook waited for the endpoint to go cold."""
    counted = workers_counted(health)
    waited = (f"after waiting {waited_s:.0f} s for the earlier notebook's workers to reach their idle timeout"
              if waited_s >= 0.5 else "without waiting (no worker was warm)")
    if counted == 0 and listed == 0:
        return (f"Zero workers {waited}: /workers lists none and /health counts none, so the endpoint costs "
                "nothing until a job arrives, and the next job pays a cold start.")
    return (f"Not cold {waited}: /workers lists {listed} worker(s) and /health counts {counted}, so the next job "
            "may find a warm worker.")


def first_job_sentence(first, split) -> str:
    """The first job's wait, from its ``delayTime`` split (``coldstart.split_delay``) and its ``executionTime``."""
    ran = f"ran in {(first.execution_ms or 0) / 1000:.2f} s (executionTime)"
    if split.starting_s > 0:
        return (f"The first job waited {split.delay_s:.2f} s (delayTime): {split.starting_s:.2f} s while its worker "
                f"started (the cold start), {split.queueing_s:.2f} s in the queue; it {ran}.")
    return f"The first job waited {split.delay_s:.2f} s (delayTime) and found a warm worker: no cold start; it {ran}."


def back_to_zero_sentence(samples, waited_s: float, idle_timeout_s: float) -> str:
    """The scale-up and the return to zero, from the recorder's samples."""
    peak = max((s.workers for s in samples), default=0)
    final = samples[-1].workers if samples else 0
    tail = (f"back to {final} workers {waited_s:.0f} s after the burst (idle timeout {idle_timeout_s:g} s): "
            "zero idle cost" if final == 0 else f"still {final} worker(s) when the recording stopped")
    return f"The endpoint rose to {peak} worker(s) under the burst and came {tail}."


def stories_sentence(stories) -> str:
    """Which workers served what, and why a worker served nothing (``metrics.why_idle``'s stories)."""
    if not stories:
        return "No worker was seen (the recorder listed none)."
    served = ", ".join(f"{s.worker_id} {s.jobs_done}" for s in stories)
    idle = [s for s in stories if s.jobs_done == 0]
    head = f"{len(stories)} worker(s) ran; jobs served: {served}."
    if not idle:
        return f"{head} Every worker served at least one job: each came up while jobs still waited."
    whys = "; ".join(f"{s.worker_id} {s.reason}" for s in idle)
    return f"{head} {len(idle)} served no job, billed for its start and idle timeout: {whys}."
