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

from playbook.api.control import ControlClient
from playbook.api.endpoint_model import defaults_note
from playbook.api.gpus import Catalog, live_catalog
from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt
from playbook.core.html import table
from playbook.deploy import guards, janitor
from playbook.deploy.body import created_fields, endpoint_body, endpoint_diff
from playbook.deploy.changes import ApplyResult, Change, FieldChange, Plan, reveal, show
from playbook.deploy.checks import PlacementError, check_placement
from playbook.deploy.spec import DeploymentSpec

NEW_VOLUME = "<new volume>"  # stands for the id a volume gets when apply creates it
RELEASE_FIELDS = ("image", "env", "disk")  # container-affecting: a PATCH makes a new release
TEMPLATE_TRAP = ("a new image reaches an existing endpoint only by PATCH /v2/serverless/{id}, which makes a "
                 "new release rolling out as workers cycle (in-flight workers finish on the old one); "
                 "editing a template would not change this endpoint: v2 copies templates at create time")


def _by_name(items: list[dict], name: str, kind: str) -> dict | None:
    # RunPod's older APIs appended " -fb" to the names of FlashBoot endpoints; accept both spellings
    found = [x for x in items if x.get("name") in (name, f"{name} -fb")]
    if len(found) > 1:
        ids = ", ".join(x["id"] for x in found)
        raise ConfigError(f"{len(found)} {kind}s are named {excerpt(name)} ({ids}); plan cannot tell which one the "
                          f"spec means. Delete the extra ones, or rename the spec's {kind}.")
    return found[0] if found else None


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
            from playbook.deploy.model_plan import plan_weights

            changes.append(plan_weights(spec, client, vol_change.id))
    desired = endpoint_body(spec, pools, excluded, volume_id)
    current = _by_name(client.list_endpoints(), spec.name, "endpoint")
    if current is None:
        ep = Change("endpoint", spec.name, "create", body=desired, fields=created_fields(desired),
                    notes=[defaults_note(desired)])
    else:
        patch, fields = endpoint_diff(current, desired)
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
        from playbook.deploy.model_plan import apply_weights

        weights.id = volume["id"]
        pushed, _ = apply_weights(spec, client, volume["id"], progress=progress)
        weights.notes.append(f"pushed {pushed.uploaded_bytes:,} bytes in {pushed.seconds} s and verified "
                             f"{pushed.files} files")
    ep = the_plan.change("endpoint")
    body = reveal(ep.body)
    if "networkVolumes" in body and volume:
        body["networkVolumes"] = [volume["id"] if v == NEW_VOLUME else v for v in body["networkVolumes"]]
    if ep.action == "create":
        endpoint = client.create_endpoint(body)
        ep.id = endpoint["id"]
        janitor.record("endpoint", endpoint["id"], endpoint["name"])
        ep.fields = created_fields(body)  # with the new volume's id
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


class Releases(list):
    """Release rows (dicts), shown as one table."""

    def _repr_html_(self) -> str:
        keys = ("version", "created", "source", "workers", "diff")
        return table([[row.get(k) for k in keys] for row in self], header=keys)


def releases_table(client: ControlClient, endpoint_id: str) -> list[dict]:
    """The endpoint's releases, newest first, flattened for display."""
    data = client.endpoint_releases(endpoint_id)
    return Releases({"version": r.get("version"), "created": r["createdAt"], "source": r["source"],
                     "workers": r["workerCount"], "diff": "; ".join(f"{d['field']}: {show(d['old'])} -> "
                                                                    f"{show(d['new'])}" for d in r["diff"])}
                    for r in data["releases"])
