"""The RunPod rehearsal as the test session runs it: notebooks 00-08 with target "runpod", pointed at a strict
stand-in (a local platform with ``strict=True``: images pulled from the loopback registry only, state kept in
its data file) through ``playbook.local.runpod_variables``, with a canary API key.

    python tests/rehearsal_child.py FOLDER [NAME ...]   (notebook prefixes; default: all, 00-08)

The caller sets a fresh PLAYBOOK_BUILD_DIR and PLAYBOOK_STATE_DIR (``rehearsal_env``: FOLDER/build, FOLDER/state).
The stand-in keeps its data in FOLDER/standin (RunPod's side: the only place the key may be) and its workers' logs
in FOLDER/standin-logs. It writes FOLDER/rehearsal.json: each notebook's run (``NotebookRun`` fields), the
stand-in's address, the journey's runpod and local state after 08, and what the stand-in still holds (endpoints,
templates, network volumes). Run by hand (a rerun of one notebook on the same stand-in data works: the strict
stand-in restores its state), it is the rehearsal of issue 20."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from journey_child import die_with_parent, write_report

CANARY_PREFIX = "canary-rehearsal-"
PARAMETERS = {"clean_up": "always",  # 08 tears the journey down on RunPod too: the rehearsal leaves nothing
              # 03 talks to no platform: its minimal handler run as a process (about 10 CPU s) is the journey's
              "run_test_input": False}


def rehearsal_env(folder: Path) -> dict:
    """The rehearsal's fresh build and state folders (its own, under ``folder``)."""
    return {"PLAYBOOK_BUILD_DIR": str(folder / "build"), "PLAYBOOK_STATE_DIR": str(folder / "state")}


def files_holding(folder: Path, needle: str, skip: Path) -> list[str]:
    """Every file under ``folder`` whose bytes contain ``needle`` (notebooks, HTML, logs, state), except those
    under ``skip`` (the stand-in's own store, RunPod's side, which keeps the key as RunPod does)."""
    data = needle.encode()
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and skip not in path.parents:
            try:
                if data in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


def main(folder: Path, names: list[str]) -> int:
    die_with_parent()
    import playbook.local
    from playbook.api.control import ControlClient
    from playbook.deploy import janitor
    from playbook.journey import notebooks
    from playbook.journey import state as journey

    canary = CANARY_PREFIX + secrets.token_hex(12)
    folder.mkdir(parents=True, exist_ok=True)
    with playbook.local.start(record=False, strict=True, api_key=canary, data_file=folder / "standin" / "data.json",
                              log_dir=folder / "standin-logs") as standin:
        os.environ.update(playbook.local.runpod_variables(standin.target))
        os.environ["PLAYBOOK_TARGET"] = "runpod"  # what `playbook notebooks --target runpod` sets
        paths = notebooks.select(names)
        wanted = {k: v for k, v in PARAMETERS.items() if any(k in notebooks.declared_parameters(p) for p in paths)}
        runs = notebooks.run_all(paths, out_dir=folder / "build" / "notebooks", parameters=wanted,
                                 stop_at_failure=True)  # a chain: later notebooks read what a failed one made
        write_report(folder / "rehearsal.json", runs, standin_url=standin.url,
                     left=janitor.inventory(ControlClient(standin.target)),
                     state={"runpod": journey.state("runpod"), "local": journey.state("local")})
    print(notebooks.summary(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
