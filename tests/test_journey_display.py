"""The journey's display helpers (issue 24): the journey in one readable line, each plan note once, the
project's folders each described, and the platform choice's break-even against RunPod's documented prices."""

from __future__ import annotations

import re
import subprocess

import pytest

from playbook.api.gpus import Catalog, GpuPool
from playbook.core.config import REPO_ROOT
from playbook.core.errors import ConfigError
from playbook.cost import choice
from playbook.deploy import changes
from playbook.journey import layout
from playbook.journey import state as journey

DIGEST = "sha256:0637ef43cb44e70699b78cd8d5ac2062656185611291cdab579f4f9a7adaf5be"


@pytest.fixture(autouse=True)
def build(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))


def test_the_journey_reads_as_one_line_in_the_journeys_order():
    assert journey.show("local").summary() == "journey (local): nothing recorded yet"
    journey.record("local", analysis={"model": "/data/my-model", "dtype": "float16", "vram_gb": 0.751},
                   gpu_pool="AMPERE_16", model_dir="/data/my-model", volume_id="9bhtdb438e",
                   volume_name="playbook-models", image=f"127.0.0.1:5000/runpod-playbook-worker@{DIGEST}",
                   endpoint_id="d2cn6xaihn09j1", endpoint_name="playbook-demo",
                   release={"version": 2, "image": "x", "env": {"A": "1"}})
    shown = journey.show("local")
    assert repr(shown) == shown.summary() == (
        "journey (local): model my-model (0.75 GB VRAM, float16) · pool AMPERE_16 · volume playbook-models "
        "(9bhtdb438e) · image runpod-playbook-worker@sha256:0637ef43cb44… · endpoint playbook-demo "
        "(d2cn6xaihn09j1), release 2")
    html = shown._repr_html_()
    assert "{" not in html and "&quot;" not in html and "deploy/demo.toml" in html  # no JSON wall; the spec named
    journey.save_spec(journey.load_spec())
    assert "spec.yaml" in journey.show("local")._repr_html_()


@pytest.mark.parametrize("reference, short", [
    (f"127.0.0.1:5000/worker@{DIGEST}", "worker@sha256:0637ef43cb44…"),
    (f"docker.io/me/worker@{DIGEST}", "me/worker@sha256:0637ef43cb44…"),
    (f"me/worker@{DIGEST}", "me/worker@sha256:0637ef43cb44…"),  # a namespace, not a host: kept
    ("localhost/worker:2", "worker:2"),
    ("worker@sha256:abc", "worker@sha256:abc"),
])
def test_an_image_reference_is_shortened_to_its_name_and_digest_prefix(reference, short):
    assert journey.short_image(reference) == short


def test_a_plan_shows_each_note_in_full_once_then_counts_it(monkeypatch):
    monkeypatch.setattr(changes, "_NOTES_SHOWN", set())
    notes = ["zero-idle check: flashboot: OFF (~$2.88/month)", "zero-idle check: volume.size_gb: 10 GB (~$0.70/month)"]
    plan = changes.Plan("local", [changes.Change("endpoint", "demo", "unchanged", "e1")], notes=list(notes))
    first, second = plan._repr_html_(), plan._repr_html_()
    assert all(n in first for n in notes) and "as above" not in first
    assert not any(n in second for n in notes) and "2 notes as above (unchanged)" in second
    third = changes.Plan("local", [], notes=[*notes, "a new note"])._repr_html_()
    assert "a new note" in third and "2 notes as above" in third
    assert all(n in plan.table() for n in notes)  # the text form (CLI) keeps them all, every time


def tracked_folders() -> tuple[set[str], set[str]]:
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    paths = [p.split("/") for p in files.splitlines()]
    return ({p[0] for p in paths if len(p) > 1},
            {p[1] for p in paths if len(p) > 2 and p[0] == "playbook"})


def test_every_folder_of_the_project_is_described():
    top, packages = tracked_folders()
    assert top == set(layout.FOLDERS), "describe the new folder in playbook/journey/layout.py FOLDERS"
    assert packages == set(layout.PACKAGES), "describe the new package in playbook/journey/layout.py PACKAGES"
    rows = {f.path: f for f in layout.layout().folders}
    assert rows["worker"].files >= 5 and rows["playbook/journey"].files >= 5
    assert "layout.py" in {p.name for p in (REPO_ROOT / "playbook" / "journey").iterdir()}


def documented_active_prices() -> dict[str, float]:
    """The active-worker prices as docs/runpod-facts.md §4 quotes them from RunPod's pricing page."""
    text = (REPO_ROOT / "docs" / "runpod-facts.md").read_text()
    line = re.search(r"Active \(always-on\) workers cost.*?\(docs:", text, re.S)[0]
    return {pool: float(usd) for pool, usd in re.findall(r"([A-Z]+_\d+(?:_PRO)?)\s+(0\.\d+)", line)}


def test_the_active_prices_are_the_documented_ones_and_below_flex():
    from playbook.api.gpus import default_catalog

    assert documented_active_prices() == choice.ACTIVE_USD_PER_S
    catalog = default_catalog()
    for pool, active in choice.ACTIVE_USD_PER_S.items():  # "a 20-30% discount compared to flex"
        assert 0.65 <= active / catalog.pools[pool].usd_per_s <= 0.81, pool  # H100: 19.8% off, as printed


def test_break_even_against_the_bills_it_compares():
    be = choice.break_even("AMPERE_24", job_s=3.0, cold_start_s=15.0, idle_timeout_s=5)
    always_on_day = 0.00013 * 86_400
    assert be.always_on_usd_per_day == pytest.approx(always_on_day)
    # back to back: flex bills only busy seconds; at the warm break-even busy share the two days cost the same
    assert be.warm_utilisation * 86_400 * 0.00019 == pytest.approx(always_on_day)
    # every job alone: each bills cold start + job + idle timeout; at the cold break-even the days cost the same
    jobs = be.cold_utilisation * 86_400 / 3.0
    assert jobs == pytest.approx(be.cold_jobs_per_day)
    assert jobs * (15 + 3 + 5) * 0.00019 == pytest.approx(always_on_day)
    assert be.cold_utilisation < be.warm_utilisation
    assert f"{be.warm_utilisation:.0%}" in be.sentence() and f"{be.cold_utilisation:.1%}" in be.sentence()


def test_break_even_against_a_pod_and_clear_errors():
    pod = choice.break_even("AMPERE_24", 3.0, 15.0, 5, always_on_usd_per_h=0.36)
    assert pod.always_on_usd_per_s == pytest.approx(0.0001) and pod.warm_utilisation == pytest.approx(0.0001 / 0.00019)
    catalog = Catalog({"CUSTOM_8": GpuPool("CUSTOM_8", ("Some GPU",), 8, 0.0001)})
    with pytest.raises(ConfigError, match="no documented active-worker price: pass always_on_usd_per_h"):
        choice.break_even("CUSTOM_8", 3.0, 15.0, 5, catalog=catalog)
    assert choice.break_even("CUSTOM_8", 3.0, 15.0, 5, always_on_usd_per_h=0.18, catalog=catalog).warm_utilisation \
        == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="priced pools"):
        choice.break_even("NOPE", 3.0, 15.0, 5)
    with pytest.raises(ConfigError, match="job_s must be > 0"):
        choice.break_even("AMPERE_24", 0, 15.0, 5)
    table = choice.compare(3.0, 15.0, 5)._repr_html_()
    assert "AMPERE_16" in table and "HOPPER_141" in table and "%" in table
