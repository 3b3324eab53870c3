"""The host's driver is older than the CUDA the image needs (or the image's kernels lack the GPU's
architecture). On a CPU these are simulated by the local platform's fault switch; the signatures are
NVIDIA's container toolkit's and PyTorch's own messages (see playbook.local.runtime.faults)."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"nvidia-container-cli: requirement error|unsatisfied condition: cuda|Found no NVIDIA driver|"
                     r"CUDA driver version is insufficient|no kernel image is available for execution|"
                     r"device kernel image is invalid", re.I)


def check(obs: Observation) -> list[str] | None:
    hits = obs.find(PATTERN)
    if not hits:
        return None
    gpu = obs.endpoint.get("gpu") or {}
    allowed = gpu.get("allowedCudaVersions") or ([f">={gpu['minCudaVersion']}"] if gpu.get("minCudaVersion") else [])
    return [obs.quote(line, text) for text, line in hits[-2:]] + [
        f"the endpoint's CUDA constraint: {', '.join(allowed) if allowed else 'none (any host driver)'}"]


NEEDS = re.compile(r"cuda>=(\d+\.\d+)")


def remedy(obs: Observation) -> dict | None:
    """Place workers only on hosts whose driver has the CUDA the image needs (RunPod's minCudaVersion)."""
    need = next((m.group(1) for t, _ in obs.texts() if (m := NEEDS.search(t))), None)
    if need is None:
        return None
    return {"gpu": {"minCudaVersion": need, "allowedCudaVersions": []}}
