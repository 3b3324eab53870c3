"""Guards: the zero-idle findings with their monthly cost, and the spend cap plan/apply refuse to exceed."""

from __future__ import annotations

import pytest

from playbook.api.gpus import default_catalog
from playbook.api.pricing import SECONDS_PER_MONTH, STORAGE
from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.deploy import guards
from playbook.deploy.spec import load_spec

DEMO = load_spec(REPO_ROOT / "deploy" / "demo.toml")


def test_a_lean_spec_has_only_the_flashboot_and_volume_findings():
    found = guards.zero_idle_check(DEMO)
    assert [f.field for f in found.items] == ["flashboot", "volume.size_gb"]
    assert found.items[1].usd_per_month == pytest.approx(STORAGE.volume_usd_per_month(10)) == pytest.approx(0.7)


def test_each_costly_setting_is_a_finding_with_its_monthly_cost():
    spec = DEMO.with_changes(workers={"min": 1, "max": 3, "idle_timeout_s": 120}, execution_timeout_s=86_400,
                             flashboot="FLASHBOOT", volume=None)
    found = guards.zero_idle_check(spec, bursts_per_day=10)
    by_field = {f.field: f for f in found.items}
    assert set(by_field) == {"workers.min", "workers.idle_timeout_s", "execution_timeout_s"}
    cheapest = default_catalog()["AMPERE_16"].usd_per_s  # the spec's cheaper pool
    assert by_field["workers.min"].usd_per_month == pytest.approx(cheapest * SECONDS_PER_MONTH)
    assert by_field["workers.idle_timeout_s"].usd_per_month == pytest.approx(115 * cheapest * 10 * 30)
    assert found.usd_per_month == pytest.approx(sum(f.usd_per_month for f in found.items))
    assert "<table>" in found._repr_html_()


def test_spend_cap_refuses_workers_max_times_the_dearest_pool():
    dearest = default_catalog()["AMPERE_24"].usd_per_s * 3600  # demo pools: AMPERE_16, AMPERE_24
    assert guards.max_spend_per_hour(DEMO) == pytest.approx(3 * dearest)
    guards.check_spend_cap(DEMO.with_changes(max_spend_per_hour=3 * dearest + 0.01))
    with pytest.raises(ConfigError, match="max_spend_per_hour.*Lower workers.max to 2"):
        guards.check_spend_cap(DEMO.with_changes(max_spend_per_hour=2.5 * dearest))
    with pytest.raises(ConfigError, match="max_spend_per_hour"):
        DEMO.with_changes(max_spend_per_hour=-1)


def test_plan_shows_findings_and_refuses_an_overspending_spec(tmp_path, monkeypatch):
    from playbook import deploy
    from playbook.api.control import ControlClient
    from playbook.local import platform as local_platform

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    with local_platform.LocalPlatform().start() as plat:
        client = ControlClient(plat.target, retries=0)
        shown = deploy.plan(DEMO, client)
        assert any("zero-idle check: flashboot" in n for n in shown.notes) and "zero-idle" in shown.table()
        with pytest.raises(ConfigError, match="max_spend_per_hour"):
            deploy.apply(DEMO.with_changes(max_spend_per_hour=0.01), client)
        assert client.list_endpoints() == [] and client.list_network_volumes() == []  # nothing was written
