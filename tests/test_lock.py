"""requirements.lock is one lock for the three platforms a learner brings: Linux x86_64, Linux aarch64 and
macOS arm64 (Python 3.11). Each platform's share of it (its environment markers evaluated for that platform)
pins torch once, in the right build, and every package of it has a wheel there: pip resolves it with
``--dry-run --platform ... --only-binary=:all:`` and would fail with ResolutionImpossible otherwise.

The resolution asks the package index (PyPI; the CPU torch wheel from PIP_FIND_LINKS or PyTorch's CPU index,
as scripts/bootstrap.sh does): about a minute for the three platforms, in parallel, on 2 idle cores. It is mostly
pip's own work, not waiting: 75 s at the end of a parallel session, 177 s when it ran first, beside the journey and
the rehearsal. In one process it starts when collection ends (``start_early``: tests/conftest.py); a worker of a
parallel session starts it in its fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from playbook.core.config import REPO_ROOT

LOCK = REPO_ROOT / "requirements.lock"
PYTHON = {"python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
          "platform_python_implementation": "CPython", "os_name": "posix"}
PLATFORMS = {  # name: (marker environment, pip's --platform tags)
    "linux-x86_64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
                     [f"manylinux_2_{n}_x86_64" for n in range(36, 16, -1)] + ["manylinux2014_x86_64",
                                                                              "linux_x86_64"]),
    "linux-aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
                      [f"manylinux_2_{n}_aarch64" for n in range(36, 16, -1)] + ["manylinux2014_aarch64"]),
    "macos-arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
                    ["macosx_14_0_arm64"]),  # pip adds the older macOS versions and universal2
}


def pins(platform: str) -> dict[str, str]:
    """The lock's pins (name -> version) that apply on ``platform``: its markers evaluated there."""
    env = {**default_environment(), **PYTHON, **PLATFORMS[platform][0]}
    found: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line[0] in " #-":
            continue
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(env):
            assert req.name not in found, f"{req.name} is pinned twice for {platform}"
            [spec] = req.specifier
            found[req.name] = spec.version
    return found


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


def pip_dry_run(platform: str, folder: Path) -> subprocess.Popen:
    """pip resolving the platform's pins from the index, each one a wheel for that platform (no install)."""
    pinned = folder / f"{platform}.txt"
    pinned.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins(platform).items())))
    sources = [a for d in os.environ.get("PIP_FIND_LINKS", "").split() for a in ("--find-links", d)]
    if platform == "linux-x86_64" and not sources:
        sources = ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
           *[a for tag in PLATFORMS[platform][1] for a in ("--platform", tag)], *sources,
           *(["--cert", cert] if cert else []), "--timeout", "60", "-q", "-r", str(pinned)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_early(folder: Path) -> dict[str, subprocess.Popen]:
    """The three resolutions, started when collection ends (tests/conftest.py): they wait on the index."""
    return {platform: pip_dry_run(platform, folder) for platform in PLATFORMS}


@pytest.mark.slow
@pytest.mark.starts_early
@pytest.mark.timeout(600)
def test_the_lock_resolves_on_linux_x86_64_linux_aarch64_and_macos_arm64(started_early):
    runs = started_early
    failed = {}
    for platform, proc in runs.items():
        out, _ = proc.communicate(timeout=540)
        if proc.returncode != 0:
            failed[platform] = "\n".join(line for line in out.splitlines() if "is ignored" not in line)[-1500:]
    assert failed == {}, failed
