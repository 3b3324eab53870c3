"""The project's structure: every top-level folder of the repository and of ``playbook/``, what lives there,
and which notebook it serves, read from the tree itself (``tests/test_journey_display.py`` fails when a folder
is added without a line here).

Why in notebook 00: a learner who knows where the handler, the Dockerfile, the spec and the client examples
live can follow each notebook into the code it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playbook.core.config import REPO_ROOT
from playbook.core.html import table

# folder -> (what lives there, the notebook(s) that use it)
FOLDERS = {
    "notebooks": ("the journey 00-08: narrative and short calls into the package", "00-08"),
    "playbook": ("the Python package the notebooks and the `playbook` command call (phases below)", "00-08"),
    "worker": ("what runs inside the image: handler.py, the diffusers pipeline (imagegen/), Dockerfile, "
               "requirements, test_input.json, the request contract", "03, 04"),
    "deploy": ("the deployment spec files (TOML): model, GPU pools, volume, image, scaling", "02, 05"),
    "examples": ("client examples: curl, Python requests, the runpod SDK, JavaScript fetch", "00, 06"),
    "tests": ("unit, contract (RunPod's OpenAPI specs), end-to-end on the local platform, every notebook", "-"),
    "benchmarks": ("scripts that print figures: cold start, build, notebook times; GPU checks", "-"),
    "docs": ("RunPod facts with their sources, the package's layers, RunPod's OpenAPI specs", "-"),
    "scripts": ("environment bootstrap, dependency lock, local Docker services", "-"),
    ".runpod": ("RunPod Hub files (hub.json, tests.json) for publishing the worker", "04"),
    ".ci": ("the CI entry point", "-"),
}
PACKAGES = {
    "core": ("config, settings (every PLAYBOOK_* variable), errors, secrets, HTML helpers", "-"),
    "api": ("RunPod's APIs: HTTP, REST v2 control client, jobs, GPU catalog, prices, scaling rule, targets", "-"),
    "weights": ("model analysis from safetensors headers, VRAM, placement, the demo model", "01"),
    "storage": ("the network volume over RunPod's S3 API: push, verify", "02"),
    "handler": ("the worker's handler run in this process", "00, 03"),
    "image": ("Docker build for linux/amd64, checks, registry push, baking weights", "04"),
    "deploy": ("the spec, plan/apply (idempotent), guards against idle cost, janitor", "05"),
    "monitor": ("job times, timelines, cold starts, worker logs, the client examples run as programs", "00, 06"),
    "cost": ("traces, the autoscaler simulator, sweeps, platform choice", "00, 07"),
    "doctor": ("diagnosis of the classic pitfalls, rule by rule", "08"),
    "journey": ("the journey across notebooks: state, papermill runner, glue, this table", "00-08"),
    "cli": ("the `playbook` command, one file per subcommand", "-"),
    "local": ("the local platform: RunPod's job, control, worker and S3 APIs on loopback", "00-08"),
    "data": ("package data: a public trace slice that 07 replays", "07"),
}


@dataclass(frozen=True)
class Folder:
    path: str
    what: str
    notebooks: str
    files: int


@dataclass(frozen=True)
class Layout:
    folders: tuple[Folder, ...]

    def _repr_html_(self) -> str:
        return table([(f.path + "/", f.what, f.notebooks, f.files) for f in self.folders],
                     header=["folder", "what lives there", "notebooks", "files"],
                     caption="the project, read from this checkout")


def layout(root: Path = REPO_ROOT) -> Layout:
    """Each described folder that exists here, with its file count (``playbook/<package>`` under its package)."""
    def count(path: Path) -> int:
        return sum(1 for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)

    rows = []
    for name, (what, nbs) in FOLDERS.items():
        if (root / name).is_dir():
            rows.append(Folder(name, what, nbs, count(root / name)))
        if name == "playbook":
            rows += [Folder(f"playbook/{pkg}", what_pkg, nbs_pkg, count(root / "playbook" / pkg))
                     for pkg, (what_pkg, nbs_pkg) in PACKAGES.items() if (root / "playbook" / pkg).is_dir()]
    return Layout(tuple(rows))
