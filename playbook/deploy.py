"""plan / apply / destroy: converge a target (local platform or RunPod) to a ``DeploymentSpec``.

Why: re-running a deploy script made duplicate endpoints, a template silently kept an old image, and
volumes ended up in another data center than the workers. Here resources are found **by name**,
compared field by field, and only the difference is sent, so a second ``apply`` changes nothing.

How: ``plan(spec, client)`` reads (never writes) the target: the live GPU catalog, network volumes and
endpoints. It refuses, before any write, a spec whose data centers exclude its volume's data center or
whose pools have no stock there, and an existing volume in another data center. It returns a ``Plan``
of ``Change`` rows (create / update / unchanged) with the exact request bodies; ``apply`` sends them.

The v2 template trap: RunPod copies a template into the endpoint when the endpoint is created, and later
template edits never reach it. So this module never uses templates: the image is an endpoint field, and
a new image goes out by ``PATCH /v2/serverless/{id}``, which makes a new **release** that rolls out as
workers cycle. The plan says so whenever the image changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playbook import endpoint_model, guards, janitor
from playbook.config import Target
from playbook.control import ControlClient
from playbook.errors import ConfigError
from playbook.excerpts import excerpt
from playbook.gpus import Catalog, live_catalog
from playbook.html import Html, cell, code, paragraph, table
from playbook.secrets import Secret
from playbook.spec import DeploymentSpec

NEW_VOLUME = "<new volume>"  # stands for the id a volume gets when apply creates it
RELEASE_FIELDS = ("image", "env", "disk")  # container-affecting: a PATCH makes a new release
TEMPLATE_TRAP = ("a new image reaches an existing endpoint only by PATCH /v2/serverless/{id}, which makes a "
                 "new release rolling out as workers cycle (in-flight workers finish on the old one); "
                 "editing a template would not change this endpoint: v2 copies templates at create time")


class PlacementError(ConfigError):
    """The spec would place workers where they can never run or never reach their volume."""


@dataclass
class FieldChange:
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_show(self.old)} -> {_show(self.new)}"


@dataclass
class Change:
    """One resource and what apply will do to it."""

    kind: str  # "network volume" | "endpoint"
    name: str
    action: str  # create | update | unchanged | delete | absent
    id: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    body: dict = field(default_factory=dict, repr=False)  # POST or PATCH body (secrets revealed only at send)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.action == "create":
            return ", ".join(f"{f.field}={_show(f.new)}" for f in self.fields)
        return "; ".join(str(f) for f in self.fields)


@dataclass
class Plan:
    """What apply (or destroy) will do, resource by resource."""

    target: str
    changes: list[Change]
    notes: list[str] = field(default_factory=list)
    applied: bool = False  # True once apply/destroy has sent it: the summary then says what was done

    @property
    def changed(self) -> bool:
        return any(c.action in ("create", "update", "delete") for c in self.changes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.action] = counts.get(c.action, 0) + 1
        return counts

    def change(self, kind: str) -> Change | None:
        return next((c for c in self.changes if c.kind == kind), None)

    def table(self) -> str:
        rows = [("action", "resource", "name", "id", "changes")]
        rows += [(c.action, c.kind, c.name, c.id or "-", c.describe() or "-") for c in self.changes]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
        for c in self.changes:
            lines += [f"note ({c.kind} {c.name}): {n}" for n in c.notes]
        lines += [f"note: {n}" for n in self.notes]
        done = {"create": "created", "update": "updated", "delete": "deleted", "absent": "absent"}
        lines.append("no changes" if not self.changed else ", ".join(
            (f"{n} {done[a]}" if self.applied else f"{n} to {a}")
            for a, n in self.counts().items() if a not in ("unchanged", "absent")))
        return "\n".join(lines)

    __str__ = table

    def _repr_html_(self) -> str:
        colour = {"create": "#d4f7d4", "update": "#fff3c4", "delete": "#f9d0d0"}
        rows = [(Html(f"<b>{cell(c.action)}</b>"), c.kind, c.name, c.id or "-",
                 Html("<br>".join(cell(s) for s in (_lines(c) or ["-"])))) for c in self.changes]
        notes = "".join(f"<li>{cell(n)}</li>" for c in self.changes for n in c.notes)
        notes += "".join(f"<li>{cell(n)}</li>" for n in self.notes)
        return (paragraph("target: ", Html(f"<b>{cell(self.target)}</b>"))
                + table(rows, header=("action", "resource", "name", "id", "changes"),
                        row_styles=[f"background:{colour.get(c.action, 'transparent')}" for c in self.changes])
                + (f"<ul>{notes}</ul>" if notes else "")
                + ("<p>no changes</p>" if not self.changed else ""))


@dataclass
class ApplyResult:
    plan: Plan
    endpoint: dict | None
    volume: dict | None

    @property
    def endpoint_id(self) -> str | None:
        return self.endpoint["id"] if self.endpoint else None

    @property
    def volume_id(self) -> str | None:
        return self.volume["id"] if self.volume else None

    def _repr_html_(self) -> str:
        return self.plan._repr_html_() + paragraph("endpoint: ", code(self.endpoint_id), ", volume: ",
                                                   code(self.volume_id))


def _lines(c: Change) -> list[str]:
    if c.action == "create":
        return [f"{f.field} = {_show(f.new)}" for f in c.fields]
    return [str(f) for f in c.fields]


def _show(value: Any) -> str:
    if isinstance(value, Secret):
        return "**********"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "-" if value is None else str(value)


def _reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


# -- planning ---------------------------------------------------------------------------------------

def _by_name(items: list[dict], name: str, kind: str) -> dict | None:
    # RunPod's older APIs appended " -fb" to the names of FlashBoot endpoints; accept both spellings
    found = [x for x in items if x.get("name") in (name, f"{name} -fb")]
    if len(found) > 1:
        ids = ", ".join(x["id"] for x in found)
        raise ConfigError(f"{len(found)} {kind}s are named {excerpt(name)} ({ids}); plan cannot tell which one the "
                          f"spec means. Delete the extra ones, or rename the spec's {kind}.")
    return found[0] if found else None


def check_placement(spec: DeploymentSpec, catalog: Catalog) -> tuple[list[str], list[str], list[str]]:
    """Pools, excludedTypes and notes; raises PlacementError for a placement that can never run."""
    pools, excluded = catalog.resolve(spec.gpus)
    notes: list[str] = []
    unknown = [p for p in pools if p not in catalog.pools]
    if unknown:
        raise PlacementError(f"gpus: pool(s) {unknown} are not offered by this target; "
                             f"known pools: {', '.join(catalog.pools)}")
    data_centers = spec.endpoint_data_centers()
    if spec.volume and spec.volume.data_center not in data_centers:  # spec validation also checks this
        raise PlacementError(f"data_centers {data_centers} exclude the volume's data center "
                             f"{spec.volume.data_center}")
    if catalog.live and data_centers:
        where = [spec.volume.data_center] if spec.volume else data_centers
        stocked = [p for p in pools if any(catalog[p].in_stock(dc) for dc in where)]
        if not stocked:
            alternatives = [p.pool_id for p in catalog.fitting(0) if any(p.in_stock(dc) for dc in where)
                            and p.vram_gb >= min(catalog[q].vram_gb for q in pools)]
            raise PlacementError(
                f"gpus: none of the pools {pools} has stock in {', '.join(where)}, so jobs would stay "
                f"IN_QUEUE forever. Pick pools with stock there ({', '.join(alternatives) or 'none'}), or "
                f"put the volume in a data center that has them (see `playbook gpus --live`).")
        empty = [p for p in pools if p not in stocked]
        if empty:
            notes.append(f"pools {empty} have no stock in {', '.join(where)}; workers will use {stocked}")
    if catalog.live and spec.min_cuda_version:
        notes += _check_cuda(pools, catalog, spec.min_cuda_version)
    return pools, excluded, notes


def _check_cuda(pools: list[str], catalog: Catalog, min_cuda: str) -> list[str]:
    """Refuse when no pool has a host offering CUDA >= ``min_cuda`` (the image's torch build): RunPod would
    never place a worker and jobs would stay IN_QUEUE. Pools the catalog reports no versions for pass."""
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split("."))

    lacking = [p for p in pools if catalog[p].cuda_versions
               and not any(version(v) >= version(min_cuda) for v in catalog[p].cuda_versions)]
    if len(lacking) == len(pools):
        offered = sorted({v for p in pools for v in catalog[p].cuda_versions}, key=version)
        raise PlacementError(
            f"gpus: the image needs CUDA {min_cuda} (min_cuda_version, from its torch build), and the hosts "
            f"of pools {pools} offer only CUDA {', '.join(offered)}, so jobs would stay IN_QUEUE forever. "
            "Pick pools whose hosts have a newer driver (see `playbook gpus --live`), or build the image "
            "with a torch for an older CUDA.")
    return [f"pools {lacking} have no host with CUDA {min_cuda}; workers will use the others"] if lacking else []


def endpoint_body(spec: DeploymentSpec, pools: list[str], excluded: list[str], volume_id: str | None) -> dict:
    """The CreateEndpointRequest for the spec (env values may be ``Secret``s until sent), checked against the
    typed model. Every field whose RunPod v2 default differs from its docs is set (``endpoint_model``)."""
    gpu: dict[str, Any] = {"pools": pools, "count": spec.gpu_count}
    if excluded:
        gpu["excludedTypes"] = excluded
    if spec.min_cuda_version:
        gpu["minCudaVersion"] = spec.min_cuda_version
    workers = {"min": spec.workers.min, "max": spec.workers.max, "idleTimeout": spec.workers.idle_timeout_s}
    if spec.scaler.type == "REQUEST_COUNT":  # REST v2 refuses idleTimeout with REQUEST_COUNT scaling
        del workers["idleTimeout"]
    body = {
        "name": spec.name, "type": "QUEUE", "image": spec.image, "env": spec.resolved_env(),
        "disk": spec.container_disk_gb, "gpu": gpu,
        "workers": workers,
        "scaling": spec.scaler.body(), "flashboot": spec.flashboot,
        "timeout": spec.execution_timeout_s * 1000,
        "dataCenterIds": spec.endpoint_data_centers(),
        "networkVolumes": [volume_id] if volume_id else [],
    }
    endpoint_model.check(_reveal(body), endpoint_model.EndpointCreate)
    return body


def _same(key: str, old: Any, new: Any) -> bool:
    if key in ("dataCenterIds", "networkVolumes"):
        return sorted(old or []) == sorted(new or [])
    if key == "env":
        return (old or {}) == _reveal(new or {})
    if key == "gpu":
        old = old or {}
        return (sorted(old.get("pools") or []) == sorted(new["pools"])
                and (old.get("count") or 1) == new["count"]
                and sorted(old.get("excludedTypes") or []) == sorted(new.get("excludedTypes") or [])
                and (old.get("minCudaVersion") or None) == new.get("minCudaVersion"))
    if key == "scaling":
        return {k: float(v) if isinstance(v, (int, float)) else v for k, v in (old or {}).items()} == \
            {k: float(v) if isinstance(v, (int, float)) else v for k, v in new.items()}
    return old == new


def _endpoint_diff(current: dict, desired: dict) -> tuple[dict, list[FieldChange]]:
    patch: dict[str, Any] = {}
    fields: list[FieldChange] = []
    for key, new in desired.items():
        if key in ("name", "type"):
            continue
        old = current.get(key)
        if _same(key, old, new):
            continue
        if key == "gpu":
            new = {**new, "excludedTypes": new.get("excludedTypes", []),
                   **({"minCudaVersion": ""} if (old or {}).get("minCudaVersion") and
                      "minCudaVersion" not in new else {})}
        patch[key] = new
        if key in ("env", "workers", "gpu", "scaling") and isinstance(old, dict):
            for sub in sorted(set(old) | set(new)):
                if not _same(sub, old.get(sub), new.get(sub)) and not (
                        key == "env" and _reveal(new.get(sub)) == old.get(sub)):
                    secret = key == "env" and isinstance(new.get(sub), Secret)
                    fields.append(FieldChange(f"{key}.{sub}", "**********" if secret and old.get(sub) is not None
                                              else old.get(sub), new.get(sub)))
        else:
            fields.append(FieldChange(key, old, new))
    return patch, fields


def _created_fields(body: dict) -> list[FieldChange]:
    shown = ("image", "gpu", "workers", "scaling", "dataCenterIds", "networkVolumes", "timeout", "flashboot",
             "disk", "env")
    return [FieldChange(k, None, body[k]) for k in shown if body.get(k) not in (None, [], {})]


def plan(spec: DeploymentSpec, client: ControlClient, catalog: Catalog | None = None) -> Plan:
    """Read the target and say what apply would do; refuses impossible placements before any write."""
    catalog = catalog or live_catalog(client)
    pools, excluded, notes = check_placement(spec, catalog)
    notes += guards.plan_notes(spec, catalog)  # refuses a spec over its max_spend_per_hour
    changes: list[Change] = []
    volume_id = None
    if spec.volume:
        vol_change = _plan_volume(spec, client)
        changes.append(vol_change)
        volume_id = vol_change.id or NEW_VOLUME
        if spec.model:
            from playbook.weights import plan_weights

            changes.append(plan_weights(spec, client, vol_change.id))
    desired = endpoint_body(spec, pools, excluded, volume_id)
    current = _by_name(client.list_endpoints(), spec.name, "endpoint")
    if current is None:
        ep = Change("endpoint", spec.name, "create", body=desired, fields=_created_fields(desired),
                    notes=[endpoint_model.defaults_note(desired)])
    else:
        patch, fields = _endpoint_diff(current, desired)
        ep = Change("endpoint", spec.name, "update" if patch else "unchanged", id=current["id"],
                    body=patch, fields=fields)
        if "image" in patch:
            ep.notes.append(TEMPLATE_TRAP)
        elif any(k in patch for k in RELEASE_FIELDS):
            ep.notes.append("env/disk changes make a new release that rolls out as workers cycle")
    changes.append(ep)
    return Plan(client.target.name, changes, notes)


def _plan_volume(spec: DeploymentSpec, client: ControlClient) -> Change:
    vol = spec.volume
    current = _by_name(client.list_network_volumes(), vol.name, "network volume")
    if current is None:
        body = {"name": vol.name, "size": vol.size_gb, "dataCenter": vol.data_center, "type": vol.type}
        return Change("network volume", vol.name, "create", body=body,
                      fields=[FieldChange("size_gb", None, vol.size_gb),
                              FieldChange("dataCenter", None, vol.data_center)])
    if current["dataCenter"] != vol.data_center:
        raise PlacementError(
            f"volume.data_center: network volume {excerpt(vol.name)} ({current['id']}) already exists in "
            f"{current['dataCenter']}, not {vol.data_center}; volumes cannot move. Set volume.data_center = "
            f"{excerpt(current['dataCenter'])}, or use a new volume name.")
    change = Change("network volume", vol.name, "unchanged", id=current["id"])
    if current["size"] < vol.size_gb:
        change.action = "update"
        change.body = {"size": vol.size_gb}
        change.fields = [FieldChange("size_gb", current["size"], vol.size_gb)]
    elif current["size"] > vol.size_gb:
        change.notes.append(f"volume is {current['size']} GB, more than the spec's {vol.size_gb} GB; "
                            "volumes never shrink, so it stays as it is")
    return change


# -- applying ---------------------------------------------------------------------------------------

def apply_volume(spec: DeploymentSpec, client: ControlClient) -> dict:
    """Create (or grow) only the spec's network volume, e.g. to upload weights before the endpoint exists."""
    if not spec.volume:
        raise ConfigError("the spec has no [volume] table: add name, size_gb and data_center")
    change = _plan_volume(spec, client)
    if change.action == "create":
        return client.create_network_volume(change.body)
    if change.action == "update":
        return client.update_network_volume(change.id, change.body)
    return client.get_network_volume(change.id)


def apply(spec: DeploymentSpec, client: ControlClient, catalog: Catalog | None = None,
          progress: bool = True) -> ApplyResult:
    """Plan, then send exactly the planned changes. Running it twice changes nothing the second time."""
    the_plan = plan(spec, client, catalog)
    volume = None
    vol_change = the_plan.change("network volume")
    if vol_change:
        if vol_change.action == "create":
            volume = client.create_network_volume(vol_change.body)
            vol_change.id = volume["id"]
            janitor.record("network volume", volume["id"], volume["name"])
        elif vol_change.action == "update":
            volume = client.update_network_volume(vol_change.id, vol_change.body)
        else:
            volume = client.get_network_volume(vol_change.id)
    weights = the_plan.change("model weights")
    if weights and volume:
        from playbook.weights import apply_weights

        weights.id = volume["id"]
        pushed, _ = apply_weights(spec, client, volume["id"], progress=progress)
        weights.notes.append(f"pushed {pushed.uploaded_bytes:,} bytes in {pushed.seconds} s and verified "
                             f"{pushed.files} files")
    ep = the_plan.change("endpoint")
    body = _reveal(ep.body)
    if "networkVolumes" in body and volume:
        body["networkVolumes"] = [volume["id"] if v == NEW_VOLUME else v for v in body["networkVolumes"]]
    if ep.action == "create":
        endpoint = client.create_endpoint(body)
        ep.id = endpoint["id"]
        janitor.record("endpoint", endpoint["id"], endpoint["name"])
        ep.fields = _created_fields(body)  # with the new volume's id
    elif ep.action == "update":
        endpoint = client.update_endpoint(ep.id, body)
    else:
        endpoint = client.get_endpoint(ep.id)
    the_plan.applied = True
    return ApplyResult(the_plan, endpoint, volume)


def plan_destroy(spec: DeploymentSpec, client: ControlClient, volume: bool = False) -> Plan:
    """What destroy would delete: the endpoint, and the volume only when asked (it holds data)."""
    changes = []
    ep = _by_name(client.list_endpoints(), spec.name, "endpoint")
    changes.append(Change("endpoint", spec.name, "delete" if ep else "absent", id=ep and ep["id"]))
    if spec.volume:
        vol = _by_name(client.list_network_volumes(), spec.volume.name, "network volume")
        action = "absent" if not vol else ("delete" if volume else "unchanged")
        change = Change("network volume", spec.volume.name, action, id=vol and vol["id"])
        if vol and not volume:
            change.notes.append("kept: it holds your weights; pass volume=True (CLI: --volume) to delete it")
        changes.append(change)
    return Plan(client.target.name, changes)


def destroy(spec: DeploymentSpec, client: ControlClient, volume: bool = False) -> Plan:
    """Delete the spec's endpoint (and its volume when ``volume``); a second run finds nothing to do."""
    the_plan = plan_destroy(spec, client, volume)
    for change in the_plan.changes:
        if change.action != "delete":
            continue
        if change.kind == "endpoint":
            client.delete_endpoint(change.id)
        else:
            client.delete_network_volume(change.id)
    the_plan.applied = True
    return the_plan


def releases_table(client: ControlClient, endpoint_id: str) -> list[dict]:
    """The endpoint's releases, newest first, flattened for display."""
    data = client.endpoint_releases(endpoint_id)
    return [{"version": r.get("version"), "created": r["createdAt"], "source": r["source"],
             "workers": r["workerCount"], "diff": "; ".join(f"{d['field']}: {_show(d['old'])} -> "
                                                            f"{_show(d['new'])}" for d in r["diff"])}
            for r in data["releases"]]


# -- helpers for notebooks and the CLI ------------------------------------------------------------

def start_in_process():
    """A local platform inside this process: for notebooks, which run headless without `playbook local up`."""
    import playbook.local

    return playbook.local.start(record=True).target


def connect(target: str | None = "auto", start_local: Callable[[], Target] | None = start_in_process) -> ControlClient:
    """A client for the target, after printing which one it is. On the local target, when no recorded
    platform answers, ``start_local()`` starts one and returns its Target (None: raise instead)."""
    from playbook.config import resolve_target, target_name
    from playbook.errors import Unreachable

    name = target_name(target)
    local = name == "local"
    client = None
    try:
        client = ControlClient(resolve_target(name), retries=0, timeout_s=5)
        if local:
            client.datacenters()  # is the recorded platform alive?
    except (ConfigError, Unreachable):  # none recorded, or it does not answer (a refusal is raised as is)
        if not (local and start_local):
            raise
        client = None
    if client is None:
        client = ControlClient(start_local())
    client.retries, client.timeout_s = 4, 30.0
    print(f"target: {client.target.name} ({client.target.control_api_url})")
    return client


def connect_local(target: str | None, why: str) -> ControlClient:
    """A client of the local platform for what only it offers (``why``: per-worker billing, the fault
    switch), whatever the journey's target; says so when the target is RunPod."""
    from playbook.config import target_name

    if target_name(target) != "local":
        print(f"{why}: this part runs on the local platform, the journey's own endpoint on RunPod is left alone.")
    return connect("local")


def apply_journey(spec: DeploymentSpec, client: ControlClient, progress: bool = True) -> tuple[ApplyResult, bool]:
    """Apply the journey's spec (with a notebook's own changes, e.g. its scaling) and record the endpoint.

    The endpoint an earlier notebook made (05) is found by name and updated in place, a new release, never
    a second endpoint; only when the journey has none (a notebook run alone) is it created, with its volume.
    On the local platform the journey's model is put on the volume when it is not there yet. Returns the
    result and whether the endpoint is the one the journey had already recorded."""
    from playbook import journey

    name = client.target.name
    known = journey.get(name, "endpoint_id")
    result = apply(spec, client, progress=progress)
    if name == "local" and result.volume_id:
        journey.place_model(local_volume_path(client, result.volume_id), journey.get(name, "model_dir"))
    journey.record(name, endpoint_id=result.endpoint_id, endpoint_name=spec.name,
                   **({"volume_id": result.volume_id, "volume_name": result.volume["name"]} if result.volume else {}))
    return result, known == result.endpoint_id


def journey_endpoint(client: ControlClient) -> tuple[dict, bool]:
    """The endpoint the journey recorded on this target, as it is (for notebooks that only send it jobs or
    diagnose it); when it has none there, ``apply_journey`` of the journey's spec makes it. Returns the
    endpoint and whether it is the one the journey had."""
    from playbook import journey
    from playbook.errors import HttpError

    known = journey.get(client.target.name, "endpoint_id")
    if known:
        try:
            return client.get_endpoint(known), True
        except HttpError as exc:  # recorded on an earlier platform, gone with it
            if exc.status != 404:
                raise
    result, _ = apply_journey(journey.load_spec(), client)
    return result.endpoint, False


def local_volume_path(client: ControlClient, volume_id: str):
    """The folder that stands for the network volume on the local platform (its workers' /runpod-volume)."""
    if client.target.name != "local":
        raise ConfigError("network volumes on RunPod are filled through RunPod's S3-compatible API per data "
                          "center (or a pod mounting the volume at /workspace), not a local folder.")
    from playbook.local.servers.control_api import volume_folder

    return volume_folder(volume_id)


def smoke_test(client: ControlClient, endpoint_id: str, payload: dict, timeout_s: float = 180) -> dict:
    """Send one job with /runsync and return RunPod's status body (id, status, delayTime, executionTime,
    output): the first job proves the endpoint, its image, its volume and its GPU pool fit together. A
    refusal is an ``HttpError`` (a ``PlatformError``) with the job API's reason and what to do."""
    from playbook.http import HttpClient

    jobs = HttpClient(client.target.job_api_url, client.target.api_key, target=client.target.name,
                      timeout_s=timeout_s + 10, retries=2, api="job")
    return jobs.request("POST", f"/{endpoint_id}/runsync", json=payload,
                        params={"wait": int(min(timeout_s, 300) * 1000)})
