"""Run the playbook's notebooks headless, as the main job and the tests do.

Every notebook under ``notebooks/`` is executed with papermill (its ``parameters`` cell can be
overridden), the executed copy and an HTML rendering go to the build folder, and values a notebook
publishes with ``glue()`` can be read back by tests, in the spirit of scrapbook.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from playbook.core.config import REPO_ROOT, build_dir
from playbook.core.errors import ConfigError, PlaybookError
from playbook.core.secrets import KNOWN_SECRETS, lookup

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
GLUE_MIME = "application/x-playbook-glue+json"


@dataclass
class NotebookRun:
    name: str
    executed: Path
    html: Path | None
    seconds: float
    error: str | None = None
    glued: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def select(names: list[str] | None) -> list[Path]:
    """Notebooks whose file name starts with one of ``names`` (all of them when names is empty)."""
    notebooks = all_notebooks()
    if not names:
        return notebooks
    chosen = [nb for nb in notebooks if any(nb.stem.startswith(n.removesuffix(".ipynb")) for n in names)]
    if not chosen:
        known = ", ".join(nb.stem for nb in notebooks)
        raise ConfigError(f"no notebook matches {names}; known notebooks: {known}")
    return chosen


def glue(name: str, value) -> None:
    """Publish a JSON-able value from a notebook so tests and reports can read it back."""
    from IPython.display import display

    display({GLUE_MIME: {name: value}}, raw=True)  # no text form: readers see nothing, tests read it back


def read_glued(executed: Path) -> dict:
    """Every value a notebook published with ``glue()``, by name."""
    values: dict = {}
    for cell in json.loads(Path(executed).read_text())["cells"]:
        for output in cell.get("outputs", []):
            values.update(output.get("data", {}).get(GLUE_MIME, {}))
    return values


def find_secrets(path: Path) -> list[str]:
    """Names of the known secrets whose values appear anywhere in the file."""
    text = Path(path).read_text(errors="replace")
    found = []
    for name in KNOWN_SECRETS:
        secret = lookup(name)
        if secret and secret.reveal() in text:
            found.append(name)
    return found


def run_notebook(path: Path, out_dir: Path | None = None, parameters: dict | None = None,
                 html: bool = True, timeout_s: int = 900) -> NotebookRun:
    """Execute one notebook with papermill; never raises for a failing cell, records it instead."""
    import papermill

    _kernel_imports_this_checkout()
    path = Path(path)
    out_dir = Path(out_dir or build_dir() / "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / path.name
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(path), str(executed), parameters=parameters or {}, cwd=str(path.parent),
            kernel_name="python3", progress_bar=False, execution_timeout=timeout_s,
        )
    except papermill.PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    seconds = time.perf_counter() - start
    leaked = find_secrets(executed) if executed.exists() else []
    if leaked:
        executed.unlink()
        return NotebookRun(path.stem, executed, None, seconds, f"secret values found in output: {leaked}")
    html_path = render_html(executed) if html and executed.exists() else None
    glued = read_glued(executed) if executed.exists() else {}
    return NotebookRun(path.stem, executed, html_path, seconds, error, glued)


def _kernel_imports_this_checkout() -> None:
    """Kernels inherit our environment: put this checkout first so notebooks import its playbook."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(REPO_ROOT)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *parts])


def render_html(executed: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    from playbook.journey.static_widgets import make_static

    nb = nbformat.read(str(executed), as_version=4)
    make_static(nb)  # widgets as plain HTML: the copy reads well offline (no widget manager from a CDN)
    for cell in nb.cells:  # glued values are for tests, not readers (and nbconvert cannot show them)
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if set(o.get("data", {})) != {GLUE_MIME}]
    # a print can reach the kernel's stdout in two messages (text, then its newline): one block, as Jupyter shows it
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    body, _ = HTMLExporter().from_notebook_node(nb)
    html_path = executed.with_suffix(".html")
    html_path.write_text(body)
    return html_path


def declared_parameters(path: Path) -> set[str]:
    """Names in a notebook's ``parameters`` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


PYTHON_CONSTANTS = {"True": True, "False": False, "None": None}


def parse_parameters(pairs: list[str]) -> dict:
    """``["name=value", ...]`` from the command line; values are JSON when they parse (2, true, "x") or Python's
    own spelling of a constant (False, None, as the parameters cells write them), else text."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigError(f"parameter {pair[:200]!r} must look like name=value, e.g. -p model_dir=/data/my-model")
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = PYTHON_CONSTANTS.get(text, text)
    return values


@contextlib.contextmanager
def shared_platform():
    """One local platform for a whole run of notebooks, so that what 02 creates is there for 05 and 06.

    Each notebook runs in its own kernel; a platform started inside one would end with it. This starts one
    in this process (recorded, so every notebook's ``targets.connect`` finds it) unless RunPod is the target
    or a recorded local platform already answers; the journey's local state is reset with a new platform."""
    from playbook.api.control import ControlClient
    from playbook.core.config import local_target, target_name
    from playbook.journey import state as journey

    if target_name() == "runpod":  # RunPod, or a stand-in at the RUNPOD_* addresses (`local env --as-runpod`)
        yield None
        return
    try:
        ControlClient(local_target(), retries=0, timeout_s=5).datacenters()  # a recorded platform answers
        yield None
        return
    except PlaybookError:
        pass
    import playbook.local

    journey.forget("local")
    with playbook.local.start(record=True) as platform:
        yield platform


def run_all(paths: list[Path], out_dir: Path | None = None, parameters: dict | None = None,
            stop_at_failure: bool = False) -> list[NotebookRun]:
    """Run notebooks in order as one journey on one platform; each gets the ``parameters`` it declares.
    ``stop_at_failure``: the runs end at the first notebook that fails (the next ones read what it should have
    made: on a strict platform, 05 without 04's pushed image waits for a worker that cannot start)."""
    from tqdm.auto import tqdm

    parameters = parameters or {}
    unknown = set(parameters) - set().union(*(declared_parameters(p) for p in paths))
    if unknown:
        raise ConfigError(f"no notebook among {[p.stem for p in paths]} has the parameter(s) {sorted(unknown)}; "
                          "see each notebook's parameters cell")
    results = []
    with shared_platform(), tqdm(paths, desc="notebooks", unit="nb") as bar:
        for path in bar:
            bar.set_postfix_str(path.stem)
            mine = {k: v for k, v in parameters.items() if k in declared_parameters(path)}
            results.append(run_notebook(path, out_dir, parameters=mine))
            if stop_at_failure and not results[-1].ok:
                break
    return results


def summary(results: list[NotebookRun]) -> str:
    lines = []
    for r in results:
        state = "ok" if r.ok else f"FAILED ({r.error})"
        lines.append(f"{r.name:<28} {r.seconds:6.1f} s  {state}")
        lines.append(f"    executed: {r.executed}")
        if r.html:
            lines.append(f"    html:     {r.html}")
    return "\n".join(lines)
