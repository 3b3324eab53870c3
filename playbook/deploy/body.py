"""The endpoint's REST v2 body from a spec, and the field-by-field difference from what the target has."""

from __future__ import annotations

from typing import Any

from playbook.api import endpoint_model
from playbook.core.secrets import Secret
from playbook.deploy.changes import FieldChange, reveal
from playbook.deploy.spec import DeploymentSpec


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
    endpoint_model.check(reveal(body), endpoint_model.EndpointCreate)
    return body


def _same(key: str, old: Any, new: Any) -> bool:
    if key in ("dataCenterIds", "networkVolumes"):
        return sorted(old or []) == sorted(new or [])
    if key == "env":
        return (old or {}) == reveal(new or {})
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


def endpoint_diff(current: dict, desired: dict) -> tuple[dict, list[FieldChange]]:
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
                        key == "env" and reveal(new.get(sub)) == old.get(sub)):
                    secret = key == "env" and isinstance(new.get(sub), Secret)
                    fields.append(FieldChange(f"{key}.{sub}", "**********" if secret and old.get(sub) is not None
                                              else old.get(sub), new.get(sub)))
        else:
            fields.append(FieldChange(key, old, new))
    return patch, fields


def created_fields(body: dict) -> list[FieldChange]:
    shown = ("image", "gpu", "workers", "scaling", "dataCenterIds", "networkVolumes", "timeout", "flashboot",
             "disk", "env")
    return [FieldChange(k, None, body[k]) for k in shown if body.get(k) not in (None, [], {})]
