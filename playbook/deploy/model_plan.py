"""The spec's ``[model]`` in plan and apply: how many bytes go to the volume, then push and verify them.

Why: ``plan`` + ``apply`` must give an endpoint whose first job succeeds, so the weights are part of the
deployment, not a manual step. ``plan`` reads the volume's manifest through the S3 API (it writes
nothing) and says how many bytes apply will upload; ``apply`` pushes the files ``from_pretrained`` reads
(for the spec's variant), verifies them by size, and the endpoint's ``MODEL_PATH`` points at them.
"""

from __future__ import annotations

from playbook.deploy.changes import Change, FieldChange
from playbook.deploy.spec import DeploymentSpec
from playbook.storage import volume
from playbook.weights import analyze

KIND = "model weights"


def _files(spec: DeploymentSpec):
    folder = spec.model.local_folder()
    return folder, analyze.analyze(folder, variant=spec.model.variant, dtype=spec.model.dtype).upload_files()


def plan_weights(spec: DeploymentSpec, client, volume_id: str | None):
    """A ``Change`` row: create (nothing there yet), update (some bytes to upload) or unchanged."""
    folder, include = _files(spec)
    loc = volume.location(client.target, volume_id, spec.volume.data_center) if volume_id else None
    files, upload, present = volume.pending_bytes(folder, loc, spec.model.dest, include)
    action = "unchanged" if upload == 0 else ("create" if present == 0 else "update")
    change = Change(KIND, spec.model.dest, action, id=volume_id, fields=[
        FieldChange("bytes_to_upload", None, upload), FieldChange("files", None, files),
        FieldChange("MODEL_PATH", None, spec.model.model_path())])
    change.notes.append(f"{upload:,} bytes to upload from {folder} ({present:,} already on the volume)")
    return change


def apply_weights(spec: DeploymentSpec, client, volume_id: str, progress: bool = True):
    """Push and verify; returns (PushReport, VerifyReport). Raises PlatformError naming bad files."""
    folder, include = _files(spec)
    loc = volume.location(client.target, volume_id, spec.volume.data_center)
    pushed = volume.push(folder, loc, spec.model.dest, include=include, progress=progress)
    return pushed, volume.verify(loc, spec.model.dest).raise_for_problems()
