"""The image was built for another CPU (arm64 on an amd64 host): the kernel refuses to run its binaries."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"exec format error|no matching manifest for linux/amd64|image is linux/arm|"
                     r"image's platform \(linux/arm", re.I)


def check(obs: Observation) -> list[str] | None:
    hits = obs.find(PATTERN)
    if not hits:
        return None
    return [obs.quote(line, text) for text, line in hits[-2:]] + [
        f"the endpoint's image is {obs.endpoint.get('image')}; RunPod's hosts are linux/amd64"]
