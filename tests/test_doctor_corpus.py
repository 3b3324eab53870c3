"""The doctor on a bounded subset of the labelled corpus (tests/doctor_corpus.py): deployments broken from
real causes through RunPod's public interfaces (a volume without the model or with a truncated file, an
env var with a typo, a handler that fails at import, a job past the execution timeout, max workers 0, pools
without stock, a refused input) and a healthy one. Each case waits for its symptom, never for the
verdict; the doctor is asked once. `benchmarks/bench_doctor.py --corpus-only` runs all of it and prints
the confusion table."""

from __future__ import annotations

import pytest
from doctor_corpus import CASES, Clinic, confusion, run
from local_support import platform_with_own_build_dir

QUICK = [c for c in CASES if c.quick]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=False) as plat:
        yield plat


def test_the_quick_cases_cover_healthy_and_broken_and_several_verdicts():
    assert len(CASES) >= 28 and len([c for c in CASES if c.expected != "healthy"]) >= 25
    assert {c.expected for c in QUICK} >= {"healthy", "models_missing", "bad_env", "crash_loop", "no_workers",
                                          "capacity", "bad_input", "execution_timeout"}


def test_the_doctor_names_each_real_cause(platform, tmp_path):
    clinic = Clinic(platform, tmp_path)
    outcomes = run(clinic, QUICK, timeout_s=150, batch=len(QUICK))
    table = confusion(outcomes)
    print(table)
    wrong = {o.case.name: o.text for o in outcomes if not o.right}
    assert not [o for o in outcomes if o.case.expected != "healthy" and o.verdict == "healthy"], table
    assert not [o for o in outcomes if o.case.expected == "healthy" and o.verdict != "healthy"], table
    assert not wrong, f"{table}\n" + "\n\n".join(wrong.values())
