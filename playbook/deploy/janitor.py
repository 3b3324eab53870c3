"""The janitor: find and delete stale playbook-made resources (endpoints, templates, network volumes on the
target; worker images in the local Docker daemon) so that a forgotten experiment stops billing.

Why a name prefix and a record: the janitor must never touch what the playbook did not make. A resource is
the playbook's when its name starts with ``PREFIX`` (``playbook-``); its age comes from the record
``<build>/resources.json`` (``record()``, written when the playbook creates something), else from the
resource's own ``createdAt`` (endpoints have one; RunPod's v2 volumes and templates do not). A resource whose
age is unknown is listed, never deleted. Volumes hold weights: they are deleted only when asked (``volumes``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from playbook.core.config import build_dir
from playbook.core.html import table

PREFIX = "playbook-"
IMAGE_REPOSITORY_PREFIX = "local/playbook-worker"


def record_path() -> Path:
    return build_dir() / "resources.json"


def _records() -> dict:
    path = record_path()
    return json.loads(path.read_text()) if path.is_file() else {}


def record(kind: str, resource_id: str, name: str, created_s: float | None = None) -> None:
    """Note that the playbook created a resource, and when (epoch seconds)."""
    data = _records()
    data[resource_id] = {"kind": kind, "name": name, "created_s": time.time() if created_s is None else created_s}
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))


@dataclass(frozen=True)
class Stale:
    kind: str  # endpoint, template, network volume, image
    id: str
    name: str
    age_s: float | None  # None: unknown
    action: str  # delete, keep (too young), unknown age, attached, volume (needs volumes=True)


@dataclass(frozen=True)
class SweepReport:
    items: tuple[Stale, ...]
    deleted: bool
    title: str = "playbook sweep"

    def lines(self) -> list[str]:
        return [f"{s.action:10s} {s.kind:15s} {s.name:30s} {s.id:16s} "
                f"{'age ?' if s.age_s is None else f'age {s.age_s / 3600:.1f} h'}" for s in self.items]

    def _repr_html_(self) -> str:
        return table([(s.action, s.kind, s.name, s.id, None if s.age_s is None else s.age_s / 3600)
                      for s in self.items], header=["action", "kind", "name", "id", "age_h"],
                     caption=self.title + (" (deleted)" if self.deleted else " (dry run)"))


def _age(resource_id: str, created_at: str | None, records: dict, now_s: float) -> float | None:
    if resource_id in records:
        return now_s - records[resource_id]["created_s"]
    if created_at:
        try:
            return now_s - datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def find(client, older_than_s: float, volumes: bool = False, now_s: float | None = None) -> list[Stale]:
    """The target's playbook-made resources and what the sweep would do with each."""
    now_s = time.time() if now_s is None else now_s
    records = _records()
    endpoints = client.list_endpoints()
    attached = {v for e in endpoints for v in e.get("networkVolumes") or []}
    out = []
    for kind, items in (("endpoint", endpoints), ("template", client.list_templates()),
                        ("network volume", client.list_network_volumes())):
        for item in items:
            if not str(item.get("name", "")).startswith(PREFIX):
                continue
            age = _age(item["id"], item.get("createdAt"), records, now_s)
            if age is None:
                action = "unknown"
            elif age < older_than_s:
                action = "keep"
            elif kind == "network volume" and item["id"] in attached:
                action = "attached"
            elif kind == "network volume" and not volumes:
                action = "volume"
            else:
                action = "delete"
            out.append(Stale(kind, item["id"], item["name"], age, action))
    return out


def local_images(older_than_s: float, now_s: float | None = None) -> list[Stale]:
    """Worker images in the local Docker daemon (``local/playbook-worker*``) older than asked."""
    from playbook.image import dockerhost

    now_s = time.time() if now_s is None else now_s
    out = []
    for image in dockerhost.client().images.list():
        tags = [t for t in image.tags if t.startswith(IMAGE_REPOSITORY_PREFIX)]
        if not tags:
            continue
        created = datetime.fromisoformat(image.attrs["Created"][:26].rstrip("Z") + "+00:00").timestamp()
        age = now_s - created
        out.append(Stale("image", image.short_id, ", ".join(tags), age, "delete" if age >= older_than_s else "keep"))
    return out


def sweep(client, older_than_s: float, delete: bool = False, volumes: bool = False, images: bool = False,
          now_s: float | None = None) -> SweepReport:
    """List (and with ``delete``, delete) stale playbook-made resources: endpoints first, then templates and
    volumes (a volume still attached to an endpoint is kept)."""
    items = find(client, older_than_s, volumes, now_s)
    if images:
        items += local_images(older_than_s, now_s)
    if delete:
        delete_items(client, items)
    return SweepReport(tuple(items), delete)


def delete_items(client, items: list[Stale], missing_ok: bool = False) -> list[Stale]:
    """Delete the items whose action is "delete": endpoints first, then templates, volumes (a volume
    attached to an endpoint cannot go before it) and images. With ``missing_ok`` a resource already gone
    (404) is passed over. Returns the items deleted."""
    from playbook.core.errors import HttpError

    order = {"endpoint": 0, "template": 1, "network volume": 2, "image": 3}
    deleted = []
    for item in sorted(items, key=lambda s: order[s.kind]):
        if item.action != "delete":
            continue
        try:
            if item.kind == "endpoint":
                client.delete_endpoint(item.id)
            elif item.kind == "template":
                client.delete_template(item.id)
            elif item.kind == "network volume":
                client.delete_network_volume(item.id)
            else:
                from playbook.image import dockerhost

                for tag in item.name.split(", "):
                    dockerhost.client().images.remove(tag)
        except HttpError as exc:
            if not (missing_ok and exc.status == 404):
                raise
            continue
        deleted.append(item)
    return deleted


def inventory(client) -> dict[str, list[str]]:
    """Every endpoint, template and network volume on the target, "name (id)" per kind: what is left."""
    return {kind: [f"{r['name']} ({r['id']})" for r in items()] for kind, items in (
        ("endpoints", client.list_endpoints), ("templates", client.list_templates),
        ("network volumes", client.list_network_volumes))}


def parse_age(text: str) -> float:
    """``90s``, ``30m``, ``12h``, ``7d`` (or plain seconds) as seconds."""
    from playbook.core.errors import ConfigError

    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ConfigError(f"--older-than {text[:30]!r}: use e.g. 90s, 30m, 12h or 7d.") from None
