"""Layer sizes measured on a real build, kept in the repository with the date and the Docker version.

Why: on a machine without a Docker daemon notebook 04 cannot build, and an empty size chart teaches nothing.
benchmarks/record_image_layers.py builds the minimal and the production images, reads their layers from the
daemon (``docker history``) and records them here (the Docker tier of the tests makes the same measurement into
a temporary file); the notebook shows that record, dated, in place of a measurement it could not make.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.core.html import code, paragraph, table
from playbook.image.build import Layer, SizeReport

REFERENCE = REPO_ROOT / "docs" / "measured" / "image_layers.json"


def record(reports: dict[str, SizeReport], docker_version: str, path: Path = REFERENCE,
           date: dt.date | None = None) -> Path:
    """Write ``reports`` (by name: "minimal", "production") with the date and the daemon's version."""
    data = {"date": (date or dt.date.today()).isoformat(), "docker_version": docker_version,
            "images": {name: {"image": r.image, "total_gb": r.total_gb,
                              "layers": [[layer.created_by, layer.size_mb] for layer in r.layers]}
                       for name, r in reports.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, ensure_ascii=False)
    text = re.sub(r'\[\n\s*("(?:[^"\\]|\\.)*"),\n\s*([\d.]+)\n\s*\]', r"[\1, \2]", text)  # a layer per line
    path.write_text(text + "\n")
    return path


@dataclass
class Reference:
    """The recorded measurement: when, with which Docker, and each image's size report."""

    date: str
    docker_version: str
    reports: dict[str, SizeReport]

    def sentence(self) -> str:
        parts = [f"{name} {r.total_gb:.2f} GB" for name, r in self.reports.items()]
        return (f"Measured on {self.date} with Docker {self.docker_version} by the Docker tier of the tests: "
                + ", ".join(parts) + ".")

    def _repr_html_(self) -> str:
        rows = [(name, f"{layer.size_mb:,.1f}", code(layer.created_by[:90]))
                for name, r in self.reports.items() for layer in r.layers if layer.size_mb >= 0.01]
        return paragraph(self.sentence()) + table(rows, header=("image", "MB", "layer"))


def load(path: Path = REFERENCE, budget_gb: float = 10.0) -> Reference:
    data = json.loads(Path(path).read_text())
    reports = {name: SizeReport(item["image"], [Layer(label, size) for label, size in item["layers"]],
                                item["total_gb"], budget_gb)
               for name, item in data["images"].items()}
    return Reference(data["date"], data["docker_version"], reports)


def compare(minimal: SizeReport, production: SizeReport) -> str:
    """One sentence from the two measurements: how the production image's size compares with the minimal one."""
    diff = production.total_gb - minimal.total_gb
    way = "smaller" if diff < 0 else "larger"
    return (f"The production image is {abs(diff):.2f} GB {way} than the minimal one ({production.total_gb:.2f} GB "
            f"against {minimal.total_gb:.2f} GB). Largest layers: `{production.largest().created_by[:64]}` "
            f"({production.largest().size_mb:,.0f} MB) in the production image, `{minimal.largest().created_by[:64]}` "
            f"({minimal.largest().size_mb:,.0f} MB) in the minimal one.")
