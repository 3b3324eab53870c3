"""The first image: ``examples/minimal_worker/Dockerfile`` (the minimal handler and what it imports), built
for linux/amd64 and measured, before the production image.

Why: a minimal Dockerfile first, progressive enhancement after. Its image is what a first attempt looks like
(one ``pip install`` on a plain Python base); measured beside the production image, each addition of
``worker/Dockerfile`` shows what it buys.

How it builds offline: the Dockerfile installs from PyPI, as RunPod's builders would. Here no index is
reachable from a build, so pip gets ``PIP_NO_INDEX=1`` and ``PIP_FIND_LINKS`` (build arguments the Dockerfile
declares, which pip reads from the environment) pointing at the wheelhouse, served over HTTP on loopback for the
length of the build (the build runs on the host network). No wheel is copied into the image: its layers are
those of a build from PyPI.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.image import build, dockerhost

MINIMAL_DIR = REPO_ROOT / "examples" / "minimal_worker"
DOCKERFILE = MINIMAL_DIR / "Dockerfile"
REPOSITORY = "runpod-playbook-minimal"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _stable_port(folder: Path) -> int:
    """A port chosen from the folder's path, so a rebuild passes the same PIP_FIND_LINKS and reuses the layer
    cache (a build argument's value is part of the cache key of the RUN that uses it)."""
    return 41000 + int(hashlib.sha256(str(folder).encode()).hexdigest(), 16) % 8000


@contextlib.contextmanager
def serve_folder(folder: Path):
    """``http://127.0.0.1:<port>/``: the folder's listing (what pip's --find-links reads), while in the block."""
    handler = functools.partial(_Quiet, directory=str(folder))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", _stable_port(folder)), handler)
    except OSError:  # taken: any free port (the pip layer is then rebuilt, never wrong)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def settings(base_image: str | None = None, url: str = "") -> build.BuildSettings:
    """The minimal image's build: its own Dockerfile and context, the local Python base, pip pointed at ``url``."""
    args = {"BASE_IMAGE": base_image or dockerhost.local_base_image()}
    if url:
        args.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=url)
    return build.BuildSettings(base_image=args["BASE_IMAGE"], repository=REPOSITORY, dockerfile=DOCKERFILE,
                               context_dir=MINIMAL_DIR, args=args)


def build_minimal(base_image: str | None = None, nocache: bool = False, progress: bool = True) -> build.BuiltImage:
    """Build ``examples/minimal_worker/Dockerfile`` for linux/amd64 from the local wheelhouse; checked like the
    production image (``build.build_image``)."""
    wheels = build.ensure_wheelhouse(MINIMAL_DIR / "requirements.txt", lock=build.LOCK)
    with serve_folder(wheels) as url:
        return build.build_image(settings(base_image, url), nocache=nocache, progress=progress)
