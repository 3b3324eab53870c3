"""The janitor deletes only what the playbook made (name prefix) and only what is older than asked."""

from __future__ import annotations

import time

import pytest

from playbook import deploy
from playbook.api.control import ControlClient
from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.deploy import janitor
from playbook.deploy.spec import load_spec

DEMO = load_spec(REPO_ROOT / "deploy" / "demo.toml")
DAY = 86_400


@pytest.fixture()
def client(tmp_path, monkeypatch):
    from playbook.local import platform as local_platform

    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path))
    with local_platform.LocalPlatform().start() as plat:
        yield ControlClient(plat.target, retries=0)


def test_sweep_deletes_only_old_playbook_made_resources(client):
    old = deploy.apply(DEMO.with_changes(name="playbook-old", volume=None), client).endpoint_id
    young = deploy.apply(DEMO.with_changes(name="playbook-young", volume=None), client).endpoint_id
    mine = deploy.apply(DEMO.with_changes(name="my-endpoint", volume=None), client).endpoint_id
    vol = client.create_network_volume({"name": "playbook-weights", "size": 10, "dataCenter": "EU-RO-1"})
    assert janitor.record_path().is_file()  # apply recorded what it created
    janitor.record("endpoint", old, "playbook-old", created_s=time.time() - 2 * DAY)
    janitor.record("network volume", vol["id"], "playbook-weights", created_s=time.time() - 2 * DAY)
    janitor.record("endpoint", mine, "my-endpoint", created_s=time.time() - 9 * DAY)  # not ours by name

    listed = janitor.sweep(client, older_than_s=DAY)  # a dry run deletes nothing
    actions = {s.name: s.action for s in listed.items}
    assert actions == {"playbook-old": "delete", "playbook-young": "keep", "playbook-weights": "volume"}
    assert len(client.list_endpoints()) == 3

    janitor.sweep(client, older_than_s=DAY, delete=True)
    assert {e["id"] for e in client.list_endpoints()} == {young, mine}
    assert [v["id"] for v in client.list_network_volumes()] == [vol["id"]]  # volumes only when asked
    janitor.sweep(client, older_than_s=DAY, delete=True, volumes=True)
    assert client.list_network_volumes() == []


def test_deleting_what_is_already_gone_is_passed_over_only_when_asked(client):
    from playbook.core.errors import HttpError

    vol = client.create_network_volume({"name": "playbook-gone", "size": 10, "dataCenter": "EU-RO-1"})
    ep = deploy.apply(DEMO.with_changes(name="playbook-here", volume=None), client).endpoint_id
    client.delete_network_volume(vol["id"])  # deleted by hand before the clean-up
    items = [janitor.Stale("network volume", vol["id"], "playbook-gone", None, "delete"),
             janitor.Stale("endpoint", ep, "playbook-here", None, "delete")]
    with pytest.raises(HttpError) as gone:
        janitor.delete_items(client, [items[0]])
    assert gone.value.status == 404
    deleted = janitor.delete_items(client, items, missing_ok=True)
    assert [d.name for d in deleted] == ["playbook-here"] and client.list_endpoints() == []

def test_ages_parse_and_refuse_nonsense():
    assert [janitor.parse_age(t) for t in ("90s", "30m", "12h", "7d", "5")] == [90, 1800, 43_200, 604_800, 5]
    with pytest.raises(ConfigError, match="older-than"):
        janitor.parse_age("soon")
