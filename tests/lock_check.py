"""pip's check of requirements.lock on each platform a learner brings, as one process (tests/test_lock.py).

    python tests/lock_check.py FOLDER      prints {platform: pip's output or ""} as JSON; exit 1 if one failed

For each platform, pip resolves that platform's pins (its markers evaluated there) with ``--dry-run --no-deps
--only-binary=:all: --platform ...``: every pin must have a wheel pip accepts for that platform, and pip reads
each wheel's metadata (Requires-Python included) as an install would.

Why a page of PyPI's per project: pip's own cost here is reading every file PyPI lists for a project, every
version of it (192,000 links for the 249 pins, about 30 of pip's 38 CPU seconds per platform, measured with
cProfile), when a pin can only take that one version. So the files are fetched once from PyPI's simple API
(JSON, PEP 691), the pinned version's files are kept exactly as PyPI lists them (URL, hashes, Requires-Python,
yanked, core metadata), and pip reads those pages from a local index (``--index-url file://...``). pip still
decides, with its own tag and Requires-Python rules, whether a wheel fits: a file left out can only make the
check fail, never pass. The CPU build of torch for Linux x86_64 comes from PIP_FIND_LINKS or PyTorch's index,
as scripts/bootstrap.sh installs it.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
PYPI_SIMPLE = "https://pypi.org/simple"
PEP_691 = "application/vnd.pypi.simple.v1+json"
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


def wheels_of(files: list[dict], version: str) -> list[dict]:
    """The wheels of one version among a project's files as PyPI's JSON page lists them (a wheel's name is
    ``name-version[-build]-python-abi-platform.whl``: each distinct version text is parsed once)."""
    wanted, same, kept = Version(version), {}, []
    for file in files:
        parts = file["filename"].split("-")
        if not file["filename"].endswith(".whl") or len(parts) not in (5, 6):
            continue  # an sdist, or a name pip would reject too
        if parts[1] not in same:
            try:
                same[parts[1]] = Version(parts[1]) == wanted
            except InvalidVersion:
                same[parts[1]] = False
        if same[parts[1]]:
            try:
                parse_wheel_filename(file["filename"])
            except InvalidWheelFilename:
                continue
            kept.append(file)
    return kept


def anchor(file: dict) -> str:
    """One file as a PEP 503 link, with what PEP 691 gave for it (hash, Requires-Python, yanked, metadata)."""
    hashes = file.get("hashes") or {}
    url = file["url"] + (f"#sha256={hashes['sha256']}" if "sha256" in hashes else "")
    attrs = [f'href="{html.escape(url)}"']
    if file.get("requires-python"):
        attrs.append(f'data-requires-python="{html.escape(file["requires-python"])}"')
    yanked = file.get("yanked")
    if yanked:
        attrs.append(f'data-yanked="{html.escape(yanked if isinstance(yanked, str) else "")}"')
    metadata = file.get("core-metadata", file.get("dist-info-metadata"))
    if metadata:
        value = f"sha256={metadata['sha256']}" if isinstance(metadata, dict) and "sha256" in metadata else "true"
        attrs += [f'data-core-metadata="{value}"', f'data-dist-info-metadata="{value}"']
    return f"<a {' '.join(attrs)}>{html.escape(file['filename'])}</a><br>"


def ca_bundle() -> str | None:
    """The CA bundle this machine's pip uses (PIP_CERT, else requests' REQUESTS_CA_BUNDLE); None: the default."""
    return os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")


def write_index(folder: Path, wanted: dict[str, set[str]]) -> Path:
    """A local simple index holding, for each project, PyPI's files of the pinned versions only."""
    cert = ca_bundle() or True
    local = threading.local()  # a session per thread: a new connection would load the CA bundle again (50 ms)

    def fetch(name: str) -> tuple[str, list[dict]]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        with local.session.get(f"{PYPI_SIMPLE}/{canonicalize_name(name)}/", headers={"Accept": PEP_691},
                               timeout=120, verify=cert) as answer:
            answer.raise_for_status()
            return name, json.loads(answer.content)["files"]

    root = folder / "simple"
    with ThreadPoolExecutor(max_workers=16) as pool:
        for name, files in pool.map(fetch, sorted(wanted)):
            page = root / canonicalize_name(name)
            page.mkdir(parents=True, exist_ok=True)
            links = [anchor(f) for version in sorted(wanted[name]) for f in wheels_of(files, version)]
            page.joinpath("index.html").write_text("<!DOCTYPE html>\n<html><body>\n" + "\n".join(links)
                                                   + "\n</body></html>\n")
    return root


def pip_dry_run(platform: str, pinned: dict[str, str], folder: Path, index: Path) -> subprocess.Popen:
    """pip resolving the platform's pins from the index, each one a wheel for that platform (no install)."""
    requirements = folder / f"{platform}.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pinned.items())))
    sources = [a for d in os.environ.get("PIP_FIND_LINKS", "").split() for a in ("--find-links", d)]
    if platform == "linux-x86_64" and not sources:
        sources = ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]
    cert = ca_bundle()
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--ignore-installed", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
           *[a for tag in PLATFORMS[platform][1] for a in ("--platform", tag)], "--index-url", index.as_uri(),
           *sources, *(["--cert", cert] if cert else []), "--timeout", "60", "-q", "-r", str(requirements)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    every = {platform: pins(platform) for platform in PLATFORMS}
    wanted: dict[str, set[str]] = {}
    for pinned in every.values():
        for name, version in pinned.items():
            wanted.setdefault(name, set()).add(version)
    index = write_index(folder, wanted)
    runs = {platform: pip_dry_run(platform, pinned, folder, index) for platform, pinned in every.items()}
    report = {}
    for platform, proc in runs.items():
        out, _ = proc.communicate()
        report[platform] = "" if proc.returncode == 0 else \
            "\n".join(line for line in out.splitlines() if "is ignored" not in line)[-1500:]
    print(json.dumps(report))
    return 1 if any(report.values()) else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
