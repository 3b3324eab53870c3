"""Workers run an old release, or the endpoint ignores an edited template: RunPod resolves a template into
the endpoint's own container settings at create time, and later template edits never reach it. The trap
is found from what the two hold (the same container settings, a different image of the same
repository), not from their names."""

from __future__ import annotations

from playbook.doctor.observe import Observation

CONTAINER = ("args", "disk", "ports", "registry")


def repository(image: str) -> str:
    name = image.split("@", 1)[0]
    return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name


def template_trap(obs: Observation) -> list[str]:
    ep, out = obs.endpoint, []
    image, env = ep.get("image"), ep.get("env") or {}
    for t in obs.templates:
        if not t.get("serverless") or not t.get("image") or not image or t["image"] == image:
            continue
        same = repository(t["image"]) == repository(image) and all(
            (t.get(k) or None) == (ep.get(k) or None) for k in CONTAINER if k in t and k in ep)
        if same and all(env.get(k) == str(v) for k, v in (t.get("env") or {}).items()):
            out.append(f"template {t['id']} holds image {t['image']} and the rest of this endpoint's container "
                       f"settings, but the endpoint runs {image}: template edits never reach an existing endpoint")
    return out


def check(obs: Observation) -> list[str] | None:
    out = [f"{w['id']} runs version {w.get('version')}, the endpoint is at {obs.endpoint_version}" for w in obs.workers
           if w.get("isStale")]
    return (out + template_trap(obs)) or None


def remedy(obs: Observation) -> dict | None:
    """PATCH the endpoint itself with the image its template now holds (a new release)."""
    for t in obs.templates:
        if template_trap(Observation(obs.subject, obs.endpoint, templates=[t])):
            return {"image": t["image"]}
    return None
