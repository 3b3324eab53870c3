"""playbook.api.pricing (prices, per-job and per-run cost, reconciliation) and the `playbook cost` CLI."""

from __future__ import annotations

import pytest

from playbook.api import pricing as cost
from playbook.api.gpus import default_catalog
from playbook.cli import main
from playbook.core.errors import ConfigError
from playbook.deploy.spec import load_spec


def test_prices_are_dated_and_scale_with_gpus():
    one = cost.price("ADA_24")
    assert one.usd_per_s == default_catalog()["ADA_24"].usd_per_s and one.as_of and "RunPod" in one.source
    assert cost.price("ADA_24", gpu_count=2).usd_per_s == pytest.approx(2 * one.usd_per_s)
    with pytest.raises(ConfigError, match="unknown GPU pool"):
        cost.price("NOPE_1")
    with pytest.raises(ConfigError, match="no known price"):
        cost.price("BLACKWELL_180")


def test_job_and_run_cost_from_measured_times():
    p = cost.Price("X", 0.001)
    job = cost.job_cost({"id": "j", "delayTime": 6000, "executionTime": 1500}, p)
    assert (job.delay_s, job.execution_s, job.latency_s) == (6.0, 1.5, 7.5)
    assert job.execution_usd == pytest.approx(0.0015)
    run = cost.run_cost(billed_s=20, busy_s=5, jobs=4, worker_price=p)
    assert run.usd == pytest.approx(0.02) and run.usd_per_job == pytest.approx(0.005)
    assert run.idle_share == pytest.approx(0.75) and "<table>" in run._repr_html_()
    assert cost.billed_seconds(10.0, 14.2) == 5 and cost.billed_seconds(10.0, 14.0) == 4
    assert cost.always_on_usd_per_day(p) == pytest.approx(86.4)
    assert cost.STORAGE.volume_usd_per_month(100) == pytest.approx(7.0)
    rec = cost.reconcile(0.02, {"metadata": {"totals": {"totalAmount": 0.021}}})
    assert rec.difference_usd == pytest.approx(0.001) and rec.relative == pytest.approx(0.001 / 0.021)
    # an endpoint that billed earlier work: the run's bill is the answer after it less the answer before
    since = cost.reconcile(0.02, {"metadata": {"totals": {"totalAmount": 0.051}}},
                           before={"metadata": {"totals": {"totalAmount": 0.03}}})
    assert since.billed_usd == pytest.approx(0.021)


def test_cost_estimate_cli_prints_dollars_and_findings(capsys):
    assert main(["cost", "estimate", "--trace", "poisson:0.01", "--hours", "2"]) == 0
    out = capsys.readouterr().out
    assert "usd_per_day" in out and "p95_s" in out and "zero-idle check: flashboot" in out


def test_cost_sweep_cli_writes_the_recommended_spec(tmp_path, capsys):
    path = tmp_path / "recommended.yaml"
    assert main(["cost", "sweep", "--trace", "bursty:0.5:60:1800", "--hours", "3", "--write-spec", str(path)]) == 0
    out = capsys.readouterr().out
    assert "recommended: workers.max" in out and "break-even" in out
    written = load_spec(path)
    assert written.name == "playbook-demo" and f"workers.max = {written.workers.max}," in out


def test_bad_trace_is_one_clear_line(capsys):
    assert main(["cost", "estimate", "--trace", "sometimes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --trace 'sometimes'") and "poisson:RATE" in err and err.count("\n") == 1
