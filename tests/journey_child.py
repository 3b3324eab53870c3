"""The journey as the test session runs it: a child process that the session starts as soon as collection
selects a test that reads the journey (tests/conftest.py), so that its ~6 minutes of notebooks overlap with
the rest of the suite instead of adding to it.

    python tests/journey_child.py FOLDER [--with-rehearsal]

Every notebook 00-08 runs in order on one local platform, with "your own model" brought in through the ``model_dir``
parameter (a demo-sized model in a folder of another name, as ``playbook notebooks -p model_dir=...`` does), on a
fresh machine as the README's `make playbook` finds it: no Docker daemon and no registry (``without_docker``:
scripts/services.sh has not run), so 04 builds nothing and the workers are local processes. The rehearsal beside it
has the daemon and the registry: 04 builds and pushes the image, and every worker of 00-08 is a container of it.
Between them the two chains cover both machines. The child's build folder and local-platform state are its own
(FOLDER/build, FOLDER/state: the caller sets PLAYBOOK_BUILD_DIR and PLAYBOOK_STATE_DIR), so nothing a concurrent
test does to its platform or build folder reaches the journey. It writes FOLDER/journey.json: each notebook's run
(as ``playbook.journey.notebooks.NotebookRun`` fields), the model folder, and the journey's local state after 08.
With ``--with-rehearsal`` it also runs the RunPod rehearsal (tests/rehearsal_child.py), in a process of its own
started first, in FOLDER/rehearsal with a build and state folder of its own: the two never share a platform (only
the Docker daemon and the loopback registry, whose concurrent pushes of the same layers ``registry.push`` retries),
and they run at the same time, so the session waits for the longer of the two, not their sum. This process exits
when both are done."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def die_with_parent() -> None:
    """The test session may be killed without a word (a CI timeout, SIGKILL): then this process, its kernels
    and its platform go too, instead of running on as orphans (the journey runs in a process group of its
    own, so a signal to the session's group does not reach it). SIGTERM (the session's stop, or this watch)
    unwinds: the platform stops its workers and containers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.killpg(os.getpgrp(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def write_report(path: Path, runs: list, **extra) -> None:
    """``path`` (JSON, written whole or not at all): each notebook's run as ``NotebookRun`` fields, and ``extra``."""
    report = {"runs": [{k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(r).items()}
                       for r in runs], **extra}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.rename(path)


def without_docker(folder: Path) -> None:
    """This process and what it starts (kernels, the platform, its workers) see no Docker daemon and no registry,
    as on a machine where scripts/services.sh never ran: DOCKER_HOST names a socket nothing listens on, and the
    services' folder (PLAYBOOK_DOCKER_DIR) has no services.env."""
    os.environ.pop("PLAYBOOK_REGISTRY", None)
    os.environ["DOCKER_HOST"] = f"unix://{folder / 'no-docker.sock'}"
    os.environ["PLAYBOOK_DOCKER_DIR"] = str(folder / "no-docker")


def main(folder: Path) -> int:
    die_with_parent()
    without_docker(folder)
    from playbook.journey import notebooks
    from playbook.journey import state as journey
    from playbook.weights.demo_model import make_demo_model

    model = make_demo_model(folder / "models" / "my-model")
    runs = notebooks.run_all(notebooks.all_notebooks(), out_dir=folder / "build" / "notebooks",
                             parameters=notebooks.parse_parameters([f"model_dir={model}"]))
    write_report(folder / "journey.json", runs, model=str(model), after=journey.state("local"))
    print(notebooks.summary(runs))
    return 0


def rehearse(folder: Path):
    """The rehearsal in a process of its own (fresh settings: its build and state folders), logging to
    FOLDER/rehearsal.log; it dies with this process (its own watch). Returns the running process."""
    import subprocess

    from rehearsal_child import rehearsal_env

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "rehearsal.log", "wb") as log:
        return subprocess.Popen([sys.executable, str(Path(__file__).with_name("rehearsal_child.py")), str(folder)],
                                env={**os.environ, **rehearsal_env(folder)}, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)


if __name__ == "__main__":
    # the rehearsal starts first, with this process's Docker daemon and registry: main() then takes them away
    # from the journey alone
    rehearsal = rehearse(Path(sys.argv[1]) / "rehearsal") if "--with-rehearsal" in sys.argv[2:] else None
    code = main(Path(sys.argv[1]))
    if rehearsal is not None:
        code = rehearsal.wait() or code
    sys.exit(code)
