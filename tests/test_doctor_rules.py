"""The doctor's rules, each on observations recorded from real runs on the local platform
(tests/data/doctor/<label>--<case>.json, written by `benchmarks/bench_doctor.py --record`): every rule
fires on the recordings of its own verdict with evidence naming the cause, none fires on a healthy one,
and the registry's precedence picks the label. No platform: these run in milliseconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playbook.doctor import checks, rules
from playbook.doctor.observe import MOUNT_LINE, Observation

DATA = Path(__file__).parent / "data" / "doctor"
RECORDED = sorted(DATA.glob("*.json"))


def _load(path: Path) -> tuple[Observation, dict]:
    return Observation.load(path), json.loads(path.read_text())["_label"]


def test_the_verdicts_are_a_closed_set_and_every_rule_is_registered():
    assert set(checks.PRECEDENCE) | {"healthy"} == set(rules.VERDICTS)
    assert len(set(checks.PRECEDENCE)) == len(checks.PRECEDENCE)
    for name, check in checks.registry():
        assert callable(check), name


def test_there_are_recordings_for_most_verdicts():
    labels = {_load(p)[1]["verdict"] for p in RECORDED}
    assert len(RECORDED) >= 25 and len(labels) >= 10, sorted(labels)


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_the_registry_names_the_label_with_evidence_naming_the_cause(path):
    obs, label = _load(path)
    verdict, evidence = checks.decide(obs)
    assert verdict == label["verdict"], "\n".join(evidence)
    text = "\n".join(evidence + [rules.VERDICTS[verdict][1]]).lower()
    missing = [c for c in label["cause"] if c.lower() not in text]
    assert not missing, f"evidence does not name {missing}:\n" + "\n".join(evidence)


@pytest.mark.parametrize("name", checks.PRECEDENCE)
def test_each_rule_fires_on_its_recordings_and_never_on_a_healthy_one(name):
    check = dict(checks.registry())[name]
    own = [p for p in RECORDED if p.name.startswith(f"{name}--")]
    healthy = [p for p in RECORDED if p.name.startswith("healthy--")]
    assert healthy
    for path in own:
        assert check(_load(path)[0]), f"{name} does not fire on {path.name}"
    for path in healthy:
        assert not check(_load(path)[0]), f"{name} fires on the healthy {path.name}"


def test_evidence_shows_paths_as_the_worker_sees_them_and_how_old_lines_are():
    paths = [p for p in RECORDED if p.name.startswith("models_missing--")]
    assert paths
    for path in paths:
        obs, _ = _load(path)
        text = "\n".join(checks.decide(obs)[1])
        assert "/runpod-volume/" in text and " s ago" in text, text
        folders = [m.group(1) for x in obs.log if (m := MOUNT_LINE.search(x["line"]))]
        assert all(f not in text for f in folders), text


def test_a_patched_setting_changes_the_verdict_at_once():
    """No cache: the rules read the endpoint as observed; max workers 0 -> 1 turns no_workers into another verdict."""
    path = next(p for p in RECORDED if p.name.startswith("no_workers--"))
    obs, _ = _load(path)
    assert checks.decide(obs)[0] == "no_workers"
    obs.endpoint["workers"]["max"] = 1
    assert checks.decide(obs)[0] != "no_workers"


def test_no_stock_evidence_lists_each_pool_and_blames_only_those_without_stock():
    path = next(p for p in RECORDED if p.name.startswith("capacity--"))
    obs, _ = _load(path)
    obs.endpoint["gpu"]["pools"] = ["HOPPER_141", "AMPERE_16"]
    obs.stock["AMPERE_16"] = {"EU-RO-1": "HIGH"}
    verdict, evidence = checks.decide(obs)
    text = "\n".join(evidence)
    assert verdict == "capacity" and "AMPERE_16: EU-RO-1 HIGH" in text
    cause = next(e for e in evidence if e.startswith("no stock:"))
    assert "HOPPER_141 in EU-RO-1" in cause and "AMPERE_16" not in cause


def _recorded(prefix: str) -> list[Observation]:
    return [_load(p)[0] for p in RECORDED if p.name.startswith(prefix)]


def test_the_fix_is_a_change_the_endpoint_can_take():
    """The doctor's fix as a PATCH body, computed from what it observed."""
    for obs in _recorded("capacity--"):
        pools = checks.remedy("capacity", obs)["gpu"]["pools"]
        added = pools[-1]
        dcs = obs.endpoint["dataCenterIds"]
        assert pools[:-1] == obs.endpoint["gpu"]["pools"] and all(obs.stock[added][dc] != "NONE" for dc in dcs)
    for obs in _recorded("no_workers--"):
        assert checks.remedy("no_workers", obs)["workers"]["max"] >= 1
    for obs in _recorded("execution_timeout--"):
        assert checks.remedy("execution_timeout", obs)["timeout"] > obs.job["execution_ms"]
    for obs in _recorded("bad_env--"):
        change = checks.remedy("bad_env", obs)
        if change:  # a refused value: set to the first one the worker accepts
            ((name, value),) = [(k, v) for k, v in change["env"].items() if obs.endpoint["env"].get(k) != v]
            assert value in {"auto", "0"}, change
    (trap,) = _recorded("stale_release--template-trap")
    assert checks.remedy("stale_release", trap) == {"image": "local/playbook-worker:2"}
    for obs in _recorded("out_of_memory--"):
        assert checks.remedy("out_of_memory", obs)["gpu"]["pools"] == ["AMPERE_24"]
    for obs in _recorded("cuda_mismatch--"):
        assert checks.remedy("cuda_mismatch", obs)["gpu"]["minCudaVersion"] == "12.8"
    for obs in _recorded("healthy--"):
        assert checks.remedy("healthy", obs) is None


def test_a_job_error_from_the_sdk_is_quoted_as_its_exception_line():
    """The runpod SDK reports a handler's exception as JSON with its traceback (host paths of the worker): the
    evidence quotes the exception's type and message, never the traceback."""
    error = json.dumps({"error_type": "<class '__main__.OutOfMemoryError'>",
                        "error_message": "CUDA out of memory. Tried to allocate 20.00 GiB.",
                        "error_traceback": "Traceback (most recent call last):\n  File \"/home/me/.venv/x.py\""})
    obs = Observation("ep/job", {"id": "ep", "workers": {"max": 1}}, job={"id": "job", "status": "FAILED",
                                                                         "error": error})
    quoted = obs.quote(None)
    assert quoted == "job job error: OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB."
    assert checks.decide(obs)[0] == "out_of_memory"
    plain = Observation("ep/job", {"id": "ep"}, job={"id": "job", "status": "FAILED", "error": "boom"})
    assert plain.job_error == "boom"  # other errors are kept as they are


def test_a_crash_that_names_an_env_var_of_the_endpoint_is_fixed_by_a_release_without_it():
    """Python's fatal error quotes its path configuration (PYTHONHOME = '...'): the evidence says the endpoint
    sets it, and the change is the endpoint's env without it; a crash in the handler's own code has no change."""
    (obs,) = _recorded("crash_loop--python-home")
    evidence = checks.decide(obs)[1]
    assert any("env sets PYTHONHOME=" in e for e in evidence), evidence
    change = checks.remedy("crash_loop", obs)
    assert "PYTHONHOME" not in change["env"] and set(change["env"]) == set(obs.endpoint["env"]) - {"PYTHONHOME"}
    for obs in _recorded("crash_loop--import-"):
        assert checks.remedy("crash_loop", obs) is None


def test_the_cost_fix_is_workers_min_0_and_a_short_idle_timeout():
    (obs,) = _recorded("runaway_cost--always-on")
    change = checks.remedy("runaway_cost", obs)["workers"]
    assert change["min"] == 0 and change["idleTimeout"] <= 5 and change["max"] == obs.endpoint["workers"]["max"]
    obs.endpoint["workers"].update(change)
    assert checks.decide(obs)[0] != "runaway_cost"


def test_a_fix_is_shown_field_by_field():
    from playbook.doctor.troubleshoot import describe_change

    before = {"env": {"A": "1", "PYTHONHOME": "/opt/conda"}, "gpu": {"pools": ["AMPERE_16"]}, "timeout": 3000}
    lines = describe_change(before, {"env": {"A": "1"}, "gpu": {"pools": ["AMPERE_16", "ADA_24"]}, "timeout": 60000})
    assert lines == ["env.PYTHONHOME: '/opt/conda' -> (removed)", 'gpu.pools: ["AMPERE_16"] -> ["AMPERE_16", "ADA_24"]',
                     "timeout: 3000 -> 60000"]
