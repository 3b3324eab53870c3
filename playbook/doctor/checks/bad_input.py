"""The job's own input was refused by the worker's schema: the endpoint is fine (its worker took the job
and answered), only that request must change."""

from __future__ import annotations

import re

from playbook.doctor.observe import Observation

PATTERN = re.compile(r"invalid input|'input' must be|unknown action|takes a generate request|Input should be|"
                     r"Field required|Extra inputs are not permitted|validation error|input is required|"
                     r"\binput\b.* must be ", re.I)


def check(obs: Observation) -> list[str] | None:
    if obs.job_status != "FAILED" or not PATTERN.search(obs.job_error):
        return None
    return [obs.quote(None),
            f"worker {(obs.job or {}).get('worker_id') or '?'} took the job and refused its input: the endpoint "
            "serves; the request must change"]
