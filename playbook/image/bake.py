"""The "bake" placement: the model's files inside the image, MODEL_PATH pointing at them.

Why: for a private model of a few GB, baking beats a network volume (``playbook.weights.placement``): the image
pull happens while the worker initializes, which RunPod does not bill, the load reads container disk, and
nothing bills while the endpoint is idle. The price: every weight change is a new image.

How: ``bake_model(base_image, model_folder)`` builds a thin image on top of an already built worker image:
one ``COPY`` of the files ``from_pretrained`` reads (for ``variant``) into ``/models/<name>``, world-readable
(``save_pretrained`` writes 0600, which a non-root container user cannot read), and ``ENV MODEL_PATH``.
The push manifest is baked beside the files, so the worker's fitness check compares sizes against it.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from playbook.core.errors import BuildError
from playbook.image import dockerhost
from playbook.storage import volume
from playbook.weights import analyze

BAKED_ROOT = "/models"


@dataclass(frozen=True)
class BakedImage:
    reference: str
    image_id: str
    model_path: str  # MODEL_PATH inside the image
    weights_bytes: int
    seconds: float


def _context(folder: Path, include: list[str], name: str, base_image: str) -> tuple[io.BytesIO, int]:
    entries = volume.local_manifest(folder, include)
    manifest = {"version": 1, "complete": True, "files": [e.__dict__ for e in entries]}
    dockerfile = (f"FROM {base_image}\nCOPY model/ {BAKED_ROOT}/{name}/\n"
                  f"ENV MODEL_PATH={BAKED_ROOT}/{name}\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_bytes(arcname: str, data: bytes) -> None:
            info = tarfile.TarInfo(arcname)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))

        add_bytes("Dockerfile", dockerfile)
        add_bytes(f"model/{volume.MANIFEST_NAME}", json.dumps(manifest, indent=1).encode())
        for e in entries:
            info = tar.gettarinfo(str(folder / e.path), arcname=f"model/{e.path}")
            info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = 0o644, 0, 0, 0, "", ""
            with (folder / e.path).open("rb") as f:
                tar.addfile(info, f)
    buf.seek(0)
    return buf, sum(e.size_bytes for e in entries)


def bake_model(base_image: str, model_folder: Path | str, variant: str | None = None, name: str | None = None,
               tag: str | None = None) -> BakedImage:
    """Build ``tag`` (default ``<base repository>:<base tag>-baked-<name>``) = ``base_image`` + the model."""
    folder = Path(model_folder)
    name = name or folder.name
    include = analyze.analyze(folder, variant=variant).upload_files()
    repo, _, base_tag = base_image.rpartition(":") if ":" in base_image.split("/")[-1] else (base_image, "", "latest")
    reference = tag or f"{repo}:{base_tag}-baked-{name}"
    start = time.perf_counter()
    context, size = _context(folder, include, name, base_image)
    client = dockerhost.client()
    image_id = None
    for chunk in client.api.build(fileobj=context, custom_context=True, tag=reference, rm=True, forcerm=True,
                                  pull=False, decode=True, labels={"io.runpod-playbook.baked-model": name}):
        if "error" in chunk:
            raise BuildError(f"baking {folder} into {base_image} failed: {chunk['error'].strip()}")
        image_id = chunk.get("aux", {}).get("ID", image_id)
    return BakedImage(reference, image_id or client.images.get(reference).id, f"{BAKED_ROOT}/{name}", size,
                      round(time.perf_counter() - start, 2))
