"""requirements.lock is one lock for the three platforms a learner brings: Linux x86_64, Linux aarch64 and
macOS arm64 (Python 3.11). Each platform's share of it (its environment markers evaluated for that platform)
pins torch once, in the right build, and every package of it has a wheel there: pip resolves it with
``--dry-run --platform ... --only-binary=:all:`` and would fail with ResolutionImpossible otherwise.

The resolution (tests/lock_check.py, one process) asks PyPI for each pinned project's files once, and pip reads
the pinned versions' files from a local copy of those pages (the CPU torch wheel from PIP_FIND_LINKS or PyTorch's
CPU index, as scripts/bootstrap.sh does). It is mostly CPU work, not waiting: 71 CPU s when pip read PyPI's pages
itself, every version of every project, about 37 now. In one process it starts when collection ends
(``start_early``: tests/conftest.py); a worker of a parallel session starts it in its fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lock_check import PLATFORMS, anchor, pins, wheels_of


def test_each_platform_gets_its_torch_and_the_same_versions_of_everything_else():
    every = {platform: pins(platform) for platform in PLATFORMS}
    assert every["linux-x86_64"]["torch"] == "2.13.0+cpu"
    assert every["linux-aarch64"]["torch"] == every["macos-arm64"]["torch"] == "2.13.0"
    assert "appnope" in every["macos-arm64"] and "appnope" not in every["linux-x86_64"]  # ipykernel's, darwin only
    versions: dict[str, set[str]] = {}
    for found in every.values():
        for name, version in found.items():
            if name != "torch":
                versions.setdefault(name, set()).add(version)
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}
    # the core of the journey is on every platform
    for platform, found in every.items():
        assert {"diffusers", "transformers", "runpod", "jupyterlab", "papermill", "pytest"} <= set(found), platform


def start_early(folder: Path) -> dict[str, subprocess.Popen]:
    """The check, started when collection ends (tests/conftest.py): one process for the three platforms."""
    return {"lock": subprocess.Popen([sys.executable, str(Path(__file__).with_name("lock_check.py")), str(folder)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)}


@pytest.mark.slow
@pytest.mark.starts_early
@pytest.mark.timeout(600)
def test_the_lock_resolves_on_linux_x86_64_linux_aarch64_and_macos_arm64(started_early):
    proc = started_early["lock"]
    out, _ = proc.communicate(timeout=540)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    assert last.startswith("{"), out[-3000:]  # lock_check.py itself failed (PyPI unreachable?): its traceback
    failed = {platform: why for platform, why in json.loads(last).items() if why}
    assert failed == {} and proc.returncode == 0, failed


def test_only_the_pinned_versions_wheels_reach_pips_index_as_pypi_lists_them():
    files = [{"filename": name, "url": f"https://files.example/{name}", "hashes": {"sha256": "ab"}}
             for name in ("demo-2.0-py3-none-any.whl", "demo-2.0.0-1-cp311-cp311-macosx_14_0_arm64.whl",
                          "demo-2.0.1-py3-none-any.whl", "demo-2.0.tar.gz", "demo-20-py3-none-any.whl")]
    kept = wheels_of(files, "2.0")
    assert [f["filename"] for f in kept] == ["demo-2.0-py3-none-any.whl",  # 2.0.0 is 2.0; a build tag is kept
                                             "demo-2.0.0-1-cp311-cp311-macosx_14_0_arm64.whl"]
    link = anchor({**files[0], "requires-python": ">=3.10", "yanked": "broken", "core-metadata": {"sha256": "cd"}})
    assert link.startswith('<a href="https://files.example/demo-2.0-py3-none-any.whl#sha256=ab" ')
    assert 'data-requires-python="&gt;=3.10"' in link and 'data-yanked="broken"' in link
    assert 'data-core-metadata="sha256=cd"' in link
