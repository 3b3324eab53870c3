"""Billing on the local platform, as RunPod bills: each worker from start to full stop, rounded up to the
second, at its pool's price; the billing endpoints answer per RunPod's spec and their totals are the sum."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from local_support import endpoint, wait_until

from playbook.api import pricing as cost
from playbook.api.control import ControlClient, ControlError
from playbook.core.errors import ConfigError
from playbook.local.runtime.billing import Ledger, serverless_records, volume_records, window


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_billed_seconds_round_up_and_records_split_over_buckets():
    ledger = Ledger()
    ledger.open("w1", "ep", "AMPERE_16", 0.001, ts("2026-06-01T00:59:58"))
    ledger.close("w1", ts("2026-06-01T01:00:02.200"))  # 4.2 s -> 5 s: 2 in the first hour, 3 in the next
    ledger.open("w2", "ep", "AMPERE_16", 0.001, ts("2026-06-01T01:10:00"))
    ledger.close("w2", ts("2026-06-01T01:10:00"))  # a worker that never ran bills nothing
    assert [e.billed_s() for e in ledger.workers()] == [5, 0]
    body = serverless_records(ledger, window("2026-06-01T00:00:00Z", "2026-06-01T02:00:00Z", "hour", None))
    assert [round(r["gpuAmount"], 6) for r in body["records"]] == [0.002, 0.003]
    assert body["metadata"]["totals"]["totalAmount"] == pytest.approx(0.005)
    assert body["metadata"]["query"] == {"startTime": "2026-06-01T00:00:00Z", "endTime": "2026-06-01T02:00:00Z",
                                         "bucketSize": "hour", "serverlessId": None}


def test_window_snaps_to_buckets_and_refuses_bad_queries():
    win = window("2026-06-01T10:30:00Z", "2026-06-03T01:00:00Z", "day", None)
    assert win.query() == {"startTime": "2026-06-01T00:00:00Z", "endTime": "2026-06-04T00:00:00Z",
                           "bucketSize": "day"}
    assert len(window(None, None, "hour", 3, now_s=ts("2026-06-01T10:30:00")).buckets()) == 3
    for args, field in (((None, None, "minute", None), "bucketSize"), (("yesterday", None, "day", None), "startTime"),
                        (("2026-06-01T00:00:00Z", None, "day", 2), "lastN")):
        with pytest.raises(ConfigError, match=field):
            window(*args)


def test_volume_records_accrue_per_gb_month():
    vol = {"id": "v1", "size": 100, "type": "STANDARD", "_created_s": ts("2026-06-01T00:00:00"),
           "_deleted_s": ts("2026-06-01T12:00:00")}
    body = volume_records([vol], window("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z", "day", None), 0.07)
    assert body["metadata"]["totals"]["totalAmount"] == pytest.approx(100 * 0.07 / 60)  # half a day of a month


def test_workers_are_billed_start_to_stop_and_the_endpoint_totals_are_the_sum(platform, client):
    cfg, jobs = endpoint(platform, "sleep_handler", workers_max=2, idle_timeout_s=1.0)
    batch = jobs.run_batch([{"sleep_s": 0.3, "value": i} for i in range(4)], concurrency=4, progress=False)
    assert all(r.status == "COMPLETED" for r in batch.results)
    ledger = platform.engine.ledger
    wait_until(lambda: all(e.stop_s is not None for e in ledger.workers(cfg.id)), timeout_s=30)
    workers = ledger.workers(cfg.id)
    assert workers
    price = cost.price("AMPERE_16")
    for entry in workers:  # billed from spawn to exit, which includes the 1 s idle timeout
        assert entry.billed_s() >= 1 and entry.usd_per_s == price.usd_per_s
    expected = sum(e.billed_s() * e.usd_per_s for e in workers)

    body = cost.serverless_billing(client, serverless_id=cfg.id, bucket_size="hour")
    assert body["metadata"]["totals"]["totalAmount"] == pytest.approx(expected)
    assert sum(r["totalAmount"] for r in body["records"]) == pytest.approx(expected)
    assert {r["serverlessId"] for r in body["records"]} == {cfg.id}
    everything = cost.serverless_billing(client, bucket_size="day")
    assert everything["metadata"]["totals"]["totalAmount"] >= expected
    platform.delete_endpoint(cfg.id)  # a deleted endpoint keeps its bill
    again = cost.serverless_billing(client, serverless_id=cfg.id, bucket_size="hour")
    assert again["metadata"]["totals"]["totalAmount"] == pytest.approx(expected)
    reconciled = cost.reconcile(expected, again)
    assert reconciled.difference_usd == pytest.approx(0)


def test_volume_billing_and_bad_queries_answer_per_spec(platform, client):
    vol = client.create_network_volume({"name": "pb-billing", "size": 10, "dataCenter": "EU-RO-1"})
    body = cost.volume_billing(client, volume_id=vol["id"])
    assert body["metadata"]["uniqueNetworkVolumeCount"] == 1 and body["records"][0]["totalAmount"] > 0
    client.delete_network_volume(vol["id"])
    unrecorded = ControlClient(platform.target, retries=0)  # the request itself breaks the spec on purpose
    with pytest.raises(ControlError, match="bucketSize"):
        unrecorded.request("GET", "/billing/serverless", params={"bucketSize": "minute"})
