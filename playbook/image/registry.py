"""Push the worker image to a registry, pull it back, and record the pushed digest.

Why: an endpoint should run the exact image that was checked, not a tag that may move. So ``push``
refuses an image RunPod cannot start (``playbook.image.build.require_platform``), pushes it under its content
tag, and records the digest the registry answers with; ``pin_spec`` points a DeploymentSpec at that
digest. Credentials come from REGISTRY_USERNAME / REGISTRY_PASSWORD (environment or .env) and never
reach the record, the progress output or an error message.

How: ``push``, ``pull``, ``registry_auth``, ``last_pushed`` / ``pushed_record``, ``pin_spec``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from playbook.core.config import build_dir
from playbook.core.errors import BuildError, ConfigError
from playbook.core.html import code, paragraph
from playbook.core.secrets import lookup
from playbook.image import dockerhost
from playbook.image.build import PLATFORM, REPOSITORY, image_info, require_platform

PUSH_ATTEMPTS = 3
# what a registry answers a push raced by another push of the same blobs (a blob half written when the other
# reads it): the manifest's blob unknown, a digest that does not match, or a 500 (registry's "invalid checksum
# digest format" on the blob's HEAD); seen here when two pushes of one image met in one second
RACED_PUSH = ("blob unknown", "digest invalid", "500 Internal Server Error")


@dataclass
class PushedImage:
    """An image in a registry, addressed by digest: what an endpoint should run."""

    repository: str  # registry/name
    tag: str
    digest: str  # sha256:...
    pushed_at: float

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"

    def _repr_html_(self) -> str:
        return paragraph("pushed ", code(f"{self.repository}:{self.tag}"), " as ", code(self.reference))


def pushed_record() -> Path:
    return build_dir() / "image" / "pushed.json"


def registry_auth() -> dict | None:
    """Credentials from REGISTRY_USERNAME / REGISTRY_PASSWORD (environment or .env), or None."""
    user, password = lookup("REGISTRY_USERNAME"), lookup("REGISTRY_PASSWORD")
    if not user and not password:
        return None
    if not (user and password):
        raise ConfigError("set both REGISTRY_USERNAME and REGISTRY_PASSWORD (environment or .env), or neither.")
    return {"username": user.reveal(), "password": password.reveal()}


def push(image: str, registry: str | None = None, repository: str = REPOSITORY, progress: bool = True,
         wanted_platform: str = PLATFORM) -> PushedImage:
    """Check the platform, tag ``image`` into ``registry`` and push; record and return the digest."""

    registry = registry or dockerhost.registry_address()
    if not registry:
        raise ConfigError("no registry: pass registry='host:port', set PLAYBOOK_REGISTRY, or run scripts/services.sh.")
    require_platform(image, wanted_platform)  # never push an image that cannot start on RunPod
    client = dockerhost.client()
    img = client.images.get(image)
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    target = f"{registry}/{repository}"
    img.tag(target, tag)
    for attempt in range(PUSH_ATTEMPTS):
        try:
            digest = _push_once(client, target, tag, progress)
            break
        except BuildError as exc:
            # pushes of the same layers at once (two pushes from one daemon) can leave the registry without a
            # blob the manifest names; pushing again succeeds (moby/moby#22854, docker/for-linux#727)
            if attempt + 1 == PUSH_ATTEMPTS or not any(m in str(exc) for m in RACED_PUSH):
                raise
            time.sleep(1.0 + attempt)
    if not digest:
        raise BuildError(f"push to {target}:{tag} reported no digest.")
    pushed = PushedImage(target, tag, digest, time.time())
    pushed_record().parent.mkdir(parents=True, exist_ok=True)
    pushed_record().write_text(json.dumps(asdict(pushed), indent=2))
    return pushed


def _push_once(client, target: str, tag: str, progress: bool) -> str | None:
    """One ``docker push`` of target:tag; the digest the daemon reports (None: it reported none)."""
    import docker
    from tqdm.auto import tqdm

    digest = None
    bar = tqdm(desc=f"push {target}:{tag}", unit="layer", disable=not progress)
    hint = "Is the registry running (scripts/services.sh) and are REGISTRY_USERNAME/REGISTRY_PASSWORD right?"
    try:
        for chunk in client.api.push(target, tag=tag, stream=True, decode=True, auth_config=registry_auth()):
            if "error" in chunk:
                raise BuildError(f"push to {target} failed: {chunk['error']}. {hint}")
            if chunk.get("status") in ("Pushed", "Layer already exists"):
                bar.update(1)
            digest = chunk.get("aux", {}).get("Digest", digest)
    except docker.errors.APIError as exc:
        raise BuildError(f"push to {target} failed: {exc.explanation or exc}. {hint}") from None
    finally:
        bar.close()
    return digest


def last_pushed() -> PushedImage | None:
    """The image ``push`` recorded last (what deploy should point the endpoint at), or None."""
    path = pushed_record()
    return PushedImage(**json.loads(path.read_text())) if path.is_file() else None


def pin_spec(spec, pushed: PushedImage | None = None, info=None):
    """The DeploymentSpec with its image set to the pushed digest (default: the last push recorded here),
    and its ``min_cuda_version`` raised to the CUDA version the image's torch was built with (``info``, a
    ``build.ImageInfo``; default: read from the image when this daemon has it), so RunPod never places
    the worker on a host whose driver cannot run it. A CPU image leaves the spec's value as it is."""
    pushed = pushed or last_pushed()
    if pushed is None:
        raise ConfigError("nothing has been pushed from this build folder yet: run registry.push(...) or "
                          "`playbook build --push` first.")
    changes = {"image": pushed.reference}
    if info is None and dockerhost.image_exists(f"{pushed.repository}:{pushed.tag}"):
        try:
            info = image_info(f"{pushed.repository}:{pushed.tag}")
        except BuildError:  # not built from worker/Dockerfile: it records no torch build to follow
            info = None
    needed = info.min_cuda_version if info is not None else None
    if needed and (spec.min_cuda_version is None or _version(needed) > _version(spec.min_cuda_version)):
        changes["min_cuda_version"] = needed
    return spec.with_changes(**changes)


def pin_recorded(spec, reference: str):
    """The DeploymentSpec pinned to ``reference``, the ``registry/name@sha256:...`` that notebook 04 recorded in the
    journey: through ``pin_spec`` (and its CUDA floor) when it is this build folder's last push, else as it is.
    A reference without a digest is refused: an endpoint never runs a tag that may move."""
    if "@sha256:" not in (reference or ""):
        raise ConfigError(f"{str(reference)[:200]!r} is not pinned by digest (registry/name@sha256:...): push "
                          "the image (notebook 04, `playbook build --push`) and deploy the digest it recorded, never "
                          "a tag.")
    pushed = last_pushed()
    if pushed is not None and pushed.reference == reference:
        return pin_spec(spec, pushed)
    return spec.with_changes(image=reference)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def pull(reference: str):
    """Pull ``registry/name@sha256:...`` (or a tag) from the registry; returns the docker Image."""
    import docker

    client = dockerhost.client()
    try:
        return client.images.pull(reference, auth_config=registry_auth())
    except docker.errors.APIError as exc:
        raise BuildError(f"pull {reference} failed: {exc.explanation or exc}") from exc
