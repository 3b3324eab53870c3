"""The worker's runpod SDK has a known bug: 1.7.11 to 1.10.0 send nearly every job to one worker on an
endpoint with a network volume (docs/runpod-facts.md §2)."""

from __future__ import annotations

from playbook.doctor import rules
from playbook.doctor.observe import Observation


def check(obs: Observation) -> list[str] | None:
    version = next((v for x in obs.log if (v := rules.sdk_version(x["line"]))), None)
    if not rules.buggy_sdk(version) or not obs.endpoint.get("networkVolumes"):
        return None
    return [f"worker runs runpod {'.'.join(map(str, version))} with a network volume: 1.7.11 to 1.10.0 send "
            "nearly every job to one worker"]
