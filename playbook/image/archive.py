"""Images as archives, without a Docker daemon: make a small image archive of the worker and read an
archive's OCI configuration (OS, architecture, layers), so notebook 04 teaches the platform check, the arm64
refusal and the size table on a machine where no daemon runs.

Why an archive: what decides whether a worker starts on RunPod's amd64 hosts is the image's own config
(``architecture``), not its tag or the flags a build was given. ``docker save`` writes exactly that config
into a tar (manifest.json, the config JSON, one tar per layer); this module writes the same layout itself
(loadable with ``docker load``) and reads any such archive, e.g. one saved on a laptop.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.core.errors import BuildError
from playbook.image.build import Layer, PlatformCheck, SizeReport

WORKER_DIR = REPO_ROOT / "worker"


@dataclass(frozen=True)
class ArchiveImage:
    path: Path
    reference: str
    os: str
    architecture: str
    layers: list[Layer]


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # fixed times: same input, same digest
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_archive(path: Path | str, architecture: str = "amd64",
                 reference: str = "runpod-playbook-worker:archive") -> Path:
    """A docker-archive of the worker code (``/app``) for ``linux/<architecture>``, built without a daemon."""
    worker = {f"app/{p.relative_to(WORKER_DIR).as_posix()}": p.read_bytes() for p in sorted(WORKER_DIR.rglob("*"))
              if p.is_file() and "__pycache__" not in p.parts}
    steps = [("COPY worker/requirements.txt /app/requirements.txt",
              {"app/requirements.txt": (WORKER_DIR / "requirements.txt").read_bytes()}),
             ("COPY worker/ /app", worker)]
    layers = [(created_by, _layer(files)) for created_by, files in steps]
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for _, data in layers]
    config = json.dumps({
        "architecture": architecture, "os": "linux",
        "config": {"Cmd": ["python3", "-u", "/app/handler.py"], "WorkingDir": "/app"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": created_by} for created_by, _ in layers]}, sort_keys=True).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_names = [f"{d.removeprefix('sha256:')}/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [reference], "Layers": layer_names}]).encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for name, data in [("manifest.json", manifest), (config_name, config),
                           *zip(layer_names, (data for _, data in layers), strict=True)]:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def read_archive(path: Path | str) -> ArchiveImage:
    """OS, architecture and layer sizes from an image archive (``docker save`` or ``make_archive``)."""
    path = Path(path)
    try:
        with tarfile.open(path) as tar:
            [entry] = json.loads(tar.extractfile("manifest.json").read())
            config = json.loads(tar.extractfile(entry["Config"]).read())
            sizes = [tar.getmember(name).size for name in entry["Layers"]]
    except (OSError, KeyError, ValueError, tarfile.TarError) as exc:
        raise BuildError(f"{path} is not an image archive (docker save format): {exc}") from None
    history = [h for h in config.get("history", []) if not h.get("empty_layer")]
    labels = [h.get("created_by", "?") for h in history] + ["?"] * max(0, len(sizes) - len(history))
    layers = [Layer(label, round(size / 1e6, 3)) for label, size in zip(labels, sizes, strict=False)]
    return ArchiveImage(path, (entry.get("RepoTags") or [path.name])[0], config.get("os", "?"),
                        config.get("architecture", "?"), layers)


def check_platform(path: Path | str, wanted: str = "linux/amd64") -> PlatformCheck:
    image = read_archive(path)
    return PlatformCheck(f"{image.reference} ({Path(path).name})", image.os, image.architecture, wanted)


def require_platform(path: Path | str, wanted: str = "linux/amd64") -> PlatformCheck:
    """``check_platform`` that refuses a wrong archive with the exec-format-error explanation."""
    result = check_platform(path, wanted)
    if not result.ok:
        raise BuildError(result.explain())
    return result


def size_report(path: Path | str, budget_gb: float) -> SizeReport:
    image = read_archive(path)
    return SizeReport(image.reference, image.layers, round(sum(x.size_mb for x in image.layers) / 1000, 6),
                      budget_gb)
