"""The scaling policy, table-driven: both scaler types, min/max, idle expiry, never beyond max."""

from __future__ import annotations

import pytest

from playbook.api.scaling import Policy, Snapshot, WorkerView, decide, next_expiry_s


def w(i, state="idle", last=0.0, busy=False):
    return WorkerView(f"w{i}", state, last, busy)


QD = Policy(workers_min=0, workers_max=3, idle_timeout_s=5, scaler_type="QUEUE_DELAY", scaler_value=4)
RC = Policy(workers_min=0, workers_max=4, idle_timeout_s=5, scaler_type="REQUEST_COUNT", scaler_value=2)

CASES = [
    # name, policy, snapshot, now, expected start, expected stop
    ("idle endpoint stays at zero", QD, Snapshot(), 100.0, 0, ()),
    ("first job starts a worker at once", QD, Snapshot(in_queue=1, oldest_queued_s=10.0), 10.0, 1, ()),
    ("queue delay not reached: wait", QD,
     Snapshot([w(1, "running", 0, True)], in_queue=2, in_progress=1, oldest_queued_s=10.0), 13.9, 0, ()),
    ("queue delay reached: one per unserved job", QD,
     Snapshot([w(1, "running", 0, True)], in_queue=2, in_progress=1, oldest_queued_s=10.0), 14.0, 2, ()),
    ("a starting worker counts as free", QD,
     Snapshot([w(1, "initializing", 9)], in_queue=1, oldest_queued_s=0.0), 20.0, 0, ()),
    ("never beyond max (QUEUE_DELAY)", QD,
     Snapshot([w(1, "running", 0, True)], in_queue=9, in_progress=1, oldest_queued_s=0.0), 20.0, 2, ()),
    ("REQUEST_COUNT targets ceil((q + p) / value)", RC,
     Snapshot([w(1, "running", 0, True)], in_queue=4, in_progress=1, oldest_queued_s=0.0), 0.5, 2, ()),
    ("REQUEST_COUNT ignores the queue delay", RC, Snapshot(in_queue=1, oldest_queued_s=0.0), 0.0, 1, ()),
    ("never beyond max (REQUEST_COUNT)", RC, Snapshot(in_queue=50, oldest_queued_s=0.0), 0.0, 4, ()),
    ("REQUEST_COUNT never scales down on load", RC,
     Snapshot([w(1, "running", 0, True), w(2, "running", 0, True), w(3, "idle", 9)], in_queue=1,
              in_progress=2, oldest_queued_s=0.0), 10.0, 0, ()),
    ("idle timeout not reached", QD, Snapshot([w(1, "idle", 10.0)]), 14.9, 0, ()),
    ("idle timeout reached: stop", QD, Snapshot([w(1, "idle", 10.0)]), 15.0, 0, ("w1",)),
    ("longest idle first, running kept", QD,
     Snapshot([w(1, "idle", 3.0), w(2, "running", 0, True), w(3, "idle", 1.0)]), 20.0, 0, ("w3", "w1")),
    ("busy idle worker is not stopped", QD, Snapshot([w(1, "idle", 0.0, busy=True)]), 60.0, 0, ()),
    ("min workers started with no traffic", Policy(workers_min=2, workers_max=3), Snapshot(), 0.0, 2, ()),
    ("min workers never stopped", Policy(workers_min=1, workers_max=3, idle_timeout_s=5),
     Snapshot([w(1, "idle", 0.0), w(2, "idle", 1.0)]), 100.0, 0, ("w1",)),
    ("max below current: no start", Policy(workers_max=1), Snapshot([w(1, "running", 0, True)], in_queue=3,
                                                                     oldest_queued_s=0.0), 100.0, 0, ()),
]


@pytest.mark.parametrize(("name", "policy", "snap", "now", "start", "stop"), CASES, ids=[c[0] for c in CASES])
def test_decide(name, policy, snap, now, start, stop):
    decision = decide(policy, snap, now)
    assert (decision.start, decision.stop) == (start, stop)
    assert len(snap.workers) + decision.start <= max(policy.workers_max, len(snap.workers))


def test_next_expiry_is_the_oldest_idle_plus_timeout():
    assert next_expiry_s(QD, Snapshot([w(1, "idle", 7.0), w(2, "idle", 3.0)])) == 8.0
    assert next_expiry_s(QD, Snapshot([w(1, "running", 0, True)])) is None
    assert next_expiry_s(Policy(workers_min=1), Snapshot([w(1, "idle", 0.0)])) is None


def test_policy_of_an_endpoint_config():
    from playbook.local.runtime.endpoints import EndpointConfig

    cfg = EndpointConfig(workers_min=1, workers_max=4, idle_timeout_s=7, scaler_type="REQUEST_COUNT", scaler_value=2)
    assert Policy.of(cfg) == Policy(1, 4, 7.0, "REQUEST_COUNT", 2.0)
