"""RunPod Hub files: generated from the spec and the contract, current, within RunPod's documented fields;
`playbook hub test` passes the demo worker and fails a worker whose output breaks the contract."""

from __future__ import annotations

import copy
import json

import pytest
from local_support import handler

from playbook.cli import main
from playbook.deploy.spec import load_spec
from playbook.journey import contract, hub
from playbook.journey import hub_trial as hub_test

HUB = json.loads((hub.HUB_DIR / "hub.json").read_text())
TESTS = json.loads((hub.HUB_DIR / "tests.json").read_text())


def test_the_checked_in_hub_files_are_current_and_lint_clean(capsys):
    assert hub.drifted() == [], "run `playbook hub write` and commit .runpod/"
    assert hub.lint(HUB, TESTS) == []
    assert main(["hub", "check"]) == 0


def test_hub_files_follow_the_spec_and_the_contract():
    spec = load_spec(hub.DEFAULT_SPEC).with_changes(gpus=["RTX 4090", "AMPERE_48"], container_disk_gb=25,
                                                    min_cuda_version="12.9")
    made, tests = hub.hub_json(spec), hub.tests_json(spec)
    assert made["config"]["gpuIds"] == "ADA_24,AMPERE_48"
    assert made["config"]["containerDiskInGb"] == 25 and made["config"]["allowedCudaVersions"] == ["13.0", "12.9"]
    assert tests["config"]["gpuTypeId"] == "NVIDIA GeForce RTX 4090"
    assert [t["input"] for t in tests["tests"]] == [b["input"] for b in contract.examples().values()]
    one_card = hub.hub_json(spec.with_changes(gpus=["L4"]))["config"]["gpuIds"]
    assert one_card == "AMPERE_24,-NVIDIA RTX A5000,-NVIDIA GeForce RTX 3090"
    assert hub.lint(made, tests) == []


@pytest.mark.parametrize("change, words", [
    (lambda h, t: h.update(category="images"), "hub.json: category"),
    (lambda h, t: h["config"].update(gpuIds="ADA_24,RTX_9999"), "'RTX_9999' is not a pool id"),
    (lambda h, t: h["config"].update(gpuCount=None), "needs gpuIds and gpuCount"),
    (lambda h, t: h["config"].update(containerDisk=10), "config.containerDisk: Extra inputs"),
    (lambda h, t: h["config"]["env"].append({"key": "X"}), "needs exactly one of value or input"),
    (lambda h, t: t["config"].update(gpuTypeId="RTX 4090"), "is not a GPU type id"),
    (lambda h, t: t["tests"][0].update(timeout="5s"), "tests.json: tests.0.timeout"),
    (lambda h, t: t["config"].update(allowedCudaVersions=["12.99"]), "unknown ['12.99']"),
])
def test_lint_names_the_field_that_breaks_runpods_documented_fields(change, words):
    h, t = copy.deepcopy(HUB), copy.deepcopy(TESTS)
    change(h, t)
    problems = hub.lint(h, t)
    assert any(words in p for p in problems), problems


def test_check_output_finds_what_a_200_would_hide():
    ask = {"prompt": "x", "width": 64, "height": 64}
    assert hub_test.check_output(ask, {"images": []})[0].startswith("output breaks the result schema")
    assert "is not a generate result" in hub_test.check_output(ask, {
        "status": "ok", "model_loaded": True, "model_path": "/m", "jobs_ok": 1, "jobs_failed": 0, "versions": {}})[0]


@pytest.mark.slow
def test_hub_test_passes_on_the_demo_worker_and_fails_on_a_worker_breaking_the_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    good = hub_test.run_tests(progress=False)
    assert good.ok, good.summary()
    assert [r.name for r in good.results] == [t["name"] for t in TESTS["tests"]]
    bad = hub_test.run_tests(handler_path=handler("bad_output_handler"), progress=False)
    assert not bad.ok and all(r.status == "COMPLETED" for r in bad.results)  # what the Hub would call a pass
    assert all(r.problems for r in bad.results), bad.summary()
    assert "output breaks the result schema" in bad.summary()
    assert "FAIL" in bad._repr_html_() and "hub tests" in bad._repr_html_()
