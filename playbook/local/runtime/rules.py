"""RunPod's slower rules, applied by the scaler each tick: releases, crash-loop back-off, idle scale-down.

* **Releases** (docs/runpod-facts.md §3.4, docs: ``serverless/endpoints/rolling-releases``): a change to a
  container field (image, env, ...) makes a new release; workers of an older release are stale. An idle
  stale worker is terminated at once and replaced by a worker of the new release; a running one finishes its
  job first, then is replaced the same way. Default and strict.
* **Crash loops** (docs/runpod-facts.md §7, docs/runpod-facts.md §8; docs: ``serverless/troubleshooting``):
  RunPod keeps restarting workers that die before serving and scales down an endpoint that keeps producing
  them; the jobs stay queued (their ``policy.ttl`` still ends them). Strict only: after each consecutive failed
  start the next start waits ``min(BACKOFF_CAP_S, BACKOFF_BASE_S x 2^(n-1))`` seconds and the workers held back
  count as throttled in ``/health``. RunPod documents no figures for its back-off; these are ours. The lenient
  default instead fails the queue after three failed starts (``scaler.START_FAILURES_BEFORE_GIVING_UP``) and
  says it is the lenient default.
* **Idle scale-down** (docs/runpod-facts.md §7; docs: ``serverless/endpoints/manage-endpoints``): an endpoint
  without a request for 3 days drops to at most 2 max workers, after 7 days to 0, and stays there until the user
  raises it (a change of its workers counts as the user's). Counted on the platform's calendar
  (``runtime.clock``), which tests advance. Default and strict (a real clock never reaches 3 days in a notebook).
"""

from __future__ import annotations

import logging

from playbook.local.runtime.state import EndpointState

log = logging.getLogger("playbook.local")
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
DAY_S = 24 * 3600
IDLE_STEPS = ((7 * DAY_S, 0), (3 * DAY_S, 2))  # (idle for at least, max workers at most), longest first


def replace_stale(scaler, ep: EndpointState, now: float) -> None:
    """Replace idle workers of an older release by workers of the endpoint's release (none while backing off)."""
    from playbook.local.runtime.worker_logs import write_system_line

    for worker in list(ep.workers.values()):
        if worker.release < ep.release and worker.state == "idle" and not worker.jobs:
            write_system_line(worker.log_path, f"worker is stale (release {worker.release}, endpoint at release "
                                               f"{ep.release}): stopping it now that it is idle")
            scaler.stop_worker(ep, worker, f"stale release {worker.release}: replaced by release {ep.release}")
            active = sum(w.active for w in ep.workers.values())
            if active < ep.cfg.workers_max and now >= ep.backoff_until:
                scaler.spawn(ep)


def backoff_s(failures: int) -> float:
    """How long strict mode waits before the next start after ``failures`` consecutive failed starts."""
    return 0.0 if failures <= 0 else min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (failures - 1))


def note_failures(ep: EndpointState, now: float, seen: dict) -> None:
    """Start a back-off for each new consecutive failed start (``seen``: endpoint id -> failures counted)."""
    counted = seen.get(ep.cfg.id, 0)
    if ep.start_failures == 0:
        seen.pop(ep.cfg.id, None)
        ep.backoff_until = 0.0
    elif ep.start_failures > counted:
        seen[ep.cfg.id] = ep.start_failures
        ep.backoff_until = now + backoff_s(ep.start_failures)
        log.warning("endpoint %s: %d failed worker start(s) in a row; next start in %.0f s (%s)", ep.cfg.id,
                    ep.start_failures, backoff_s(ep.start_failures), ep.last_start_error)


def idle_scale_down(platform, ep: EndpointState) -> None:
    """Apply the 3-day and 7-day steps to an endpoint's max workers (a change the user then sees over REST)."""
    now_s = platform.engine.clock.time()
    if ep.last_request_s is None:
        ep.last_request_s = now_s
        return
    idle_s = now_s - ep.last_request_s
    for after_s, cap in IDLE_STEPS:
        if idle_s >= after_s and ep.cfg.workers_max > cap:
            log.warning("endpoint %s: no request for %.1f days: max workers %d -> %d (RunPod's idle scale-down)",
                        ep.cfg.id, idle_s / DAY_S, ep.cfg.workers_max, cap)
            ep.cfg = ep.cfg.changed(workers_max=cap, workers_min=min(ep.cfg.workers_min, cap))
            return
