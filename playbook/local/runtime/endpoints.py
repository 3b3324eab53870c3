"""Endpoints on the local platform: the subset of a RunPod serverless endpoint that shapes how jobs
run here (image or handler, env, workers min/max, idle timeout, scaler, execution timeout, volume).

Why a plain dataclass: the REST control API (issue 4), the CLI and tests all build endpoints from
different inputs; one typed record with RunPod's defaults keeps them agreeing on names and units.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from playbook.core.config import REPO_ROOT, local_volume_dir
from playbook.core.errors import ConfigError
from playbook.core.excerpts import excerpt
from playbook.core.settings import model_dir

SCALER_TYPES = ("QUEUE_DELAY", "REQUEST_COUNT")
DEFAULT_HANDLER = REPO_ROOT / "worker" / "handler.py"


def new_endpoint_id() -> str:
    """A RunPod-looking endpoint id: 14 lowercase letters and digits."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(14))


@dataclass
class EndpointConfig:
    """One serverless endpoint. Defaults follow RunPod's (idle timeout 5 s, QUEUE_DELAY 4 s, timeout 300 s)."""

    name: str = "endpoint"
    id: str = ""  # filled by create_endpoint when empty
    image: str | None = None  # a Docker image name; the Docker runner uses it when the daemon has it
    env: dict[str, str] = field(default_factory=dict)
    workers_min: int = 0
    workers_max: int = 3
    idle_timeout_s: float = 5.0
    scaler_type: str = "QUEUE_DELAY"  # or REQUEST_COUNT
    scaler_value: float = 4.0  # QUEUE_DELAY: seconds a job may wait; REQUEST_COUNT: jobs per worker
    execution_timeout_ms: int = 300_000
    volume_dir: Path | None = None  # stands in for /runpod-volume; default playbook.core.config.local_volume_dir()
    handler_path: Path | None = None  # ProcessRunner runs `python <handler_path>`; default worker/handler.py
    template_id: str | None = None
    extra: dict = field(default_factory=dict)  # fields the control API keeps but the platform ignores

    def __post_init__(self) -> None:
        self.volume_dir = Path(self.volume_dir) if self.volume_dir else local_volume_dir()
        self.handler_path = Path(self.handler_path) if self.handler_path else DEFAULT_HANDLER
        self.validate()

    def validate(self) -> None:
        """Refuse settings RunPod would refuse, naming the field and the fix."""
        if self.scaler_type not in SCALER_TYPES:
            raise ConfigError(f"scaler_type must be one of {SCALER_TYPES}, not {excerpt(self.scaler_type)}.")
        if self.workers_min < 0 or self.workers_max < 0:
            raise ConfigError("workers_min and workers_max must be >= 0.")
        if self.workers_min > self.workers_max:
            raise ConfigError(
                f"workers_min ({self.workers_min}) exceeds workers_max ({self.workers_max}): raise workers_max."
            )
        if self.idle_timeout_s < 0:
            raise ConfigError("idle_timeout_s must be >= 0 seconds.")
        if self.scaler_value < 0 or (self.scaler_type == "REQUEST_COUNT" and self.scaler_value < 1):
            raise ConfigError("scaler_value must be >= 0 (QUEUE_DELAY seconds) or >= 1 (REQUEST_COUNT jobs).")
        if self.execution_timeout_ms <= 0:
            raise ConfigError("execution_timeout_ms must be > 0 (RunPod's default is 300000).")
        from playbook.local.runtime.faults import fault_of, init_timeout_s

        fault_of(self), init_timeout_s(self)  # a fault switch (env PLAYBOOK_FAULT) must name a known fault

    @property
    def model_path(self) -> Path:
        """Where the worker finds the demo model: <volume>/models/tiny-sd, like /runpod-volume/models/tiny-sd."""
        return model_dir(Path(self.volume_dir))

    def changed(self, **changes) -> EndpointConfig:
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(f"unknown endpoint field(s) {sorted(unknown)}; known: {[f.name for f in fields(self)]}")
        if "id" in changes and changes["id"] != self.id:
            raise ConfigError("an endpoint's id cannot change; create a new endpoint instead.")
        return replace(self, **changes)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["volume_dir"] = str(self.volume_dir)
        data["handler_path"] = str(self.handler_path)
        return data
