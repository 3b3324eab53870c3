"""Local workers forked from the platform's warm process (playbook/local/supervision/forking.py): a worker folder
with a preimport.py has its workers forked after that file ran once; each is still its own worker (its own
RUNPOD_* variables, process group, log, lifeline); a worker whose environment differs in a variable read at import
time, or any worker with PLAYBOOK_WORKER_FORK=0, starts cold. The worker loop is the real runpod SDK's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from local_support import group_alive, wait_until

from playbook.api.jobs import JobClient
from playbook.core.config import REPO_ROOT
from playbook.local import EndpointConfig

pytestmark = pytest.mark.slow
FORKS = sys.platform.startswith("linux")  # elsewhere (macOS: fork after importing torch is unsafe) all start cold

HANDLER = """
import os, subprocess, sys
PRELOADED = "fork_marker" in sys.modules  # imported by preimport.py, never by this file before this line
LAUNCHED = []  # the command lines of the processes that `import runpod` starts
_popen_init = subprocess.Popen.__init__
subprocess.Popen.__init__ = lambda self, args, *a, **k: LAUNCHED.append(args) or _popen_init(self, args, *a, **k)
import runpod
from runpod.serverless.utils import rp_debugger

def handler(job):
    return {"preloaded": PRELOADED, "pod": os.environ["RUNPOD_POD_ID"], "pid": os.getpid(), "pgid": os.getpgrp(),
            "omp": os.environ.get("OMP_NUM_THREADS"), "argv0": os.path.basename(sys.argv[0]),
            "cpuinfo_runs": sum("cpuinfo" in str(a) for a in LAUNCHED), "processor": rp_debugger.PROCESSOR}

runpod.serverless.start({"handler": handler})
"""


@pytest.fixture
def folder(tmp_path):
    """A worker folder with a preimport.py (it imports fork_marker, a module of the folder)."""
    folder = tmp_path / "worker"
    folder.mkdir()
    (folder / "handler.py").write_text(textwrap.dedent(HANDLER))
    (folder / "fork_marker.py").write_text("IMPORTED_AT = __import__('time').time()\n")
    (folder / "preimport.py").write_text("import fork_marker  # noqa: F401\n")
    return folder


def servers_of(folder) -> list[str]:
    """The pids of live fork servers for ``folder`` (from /proc: their command line names the folder)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(a.endswith(b"forkserver.py") for a in argv) and str(folder).encode() in argv:
            found.append(entry)
    return found


def run_jobs(platform, folder, n: int, **fields) -> tuple[list[dict], str]:
    cfg = platform.create_endpoint(EndpointConfig(name="forked", handler_path=folder / "handler.py", workers_max=n,
                                                  scaler_type="REQUEST_COUNT", scaler_value=1, idle_timeout_s=30,
                                                  **fields))
    jobs = JobClient(platform.target, cfg.id)
    ids = [jobs.run({"i": i}) for i in range(n)]
    results = [jobs.wait(i, timeout_s=120) for i in ids]
    assert all(r.status == "COMPLETED" for r in results), results
    system_logs = "".join(p.read_text() for p in (platform.log_dir / cfg.id).glob("*.log.system"))
    return [r.output for r in results], system_logs


def test_workers_of_a_folder_with_preimport_are_forked_and_each_is_its_own_worker(platform, folder):
    outputs, system = run_jobs(platform, folder, 2)
    assert all(o["preloaded"] is FORKS for o in outputs), outputs
    assert len({o["pod"] for o in outputs}) == 2 and len({o["pid"] for o in outputs}) == 2
    assert all(o["pgid"] == o["pid"] for o in outputs)  # its own process group: stopped with what it forks
    assert all(o["argv0"] == "handler.py" for o in outputs)  # the handler runs as __main__, as launch.py runs it
    assert system.count("forked from the platform's warm process") == (2 if FORKS else 0)


def test_a_forked_worker_gets_the_servers_cpu_description_without_asking_again(platform, folder):
    """The SDK names the processor at import (py-cpuinfo, which starts an interpreter to answer): a forked worker
    gets the answer the server read once, and it is what py-cpuinfo itself says here; a cold one asks again."""
    import cpuinfo

    here = cpuinfo.get_cpu_info()["brand_raw"]
    [forked], _ = run_jobs(platform, folder, 1)
    [cold], _ = run_jobs(platform, folder, 1, env={"OMP_NUM_THREADS": "1"})
    assert forked["processor"] == cold["processor"] == here
    assert (forked["cpuinfo_runs"], cold["cpuinfo_runs"]) == ((0 if FORKS else 1), 1)


def test_a_handler_path_relative_to_the_platforms_folder_starts_forked_and_cold(platform, folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    relative = Path(folder.name) / "handler.py"
    [forked], _ = run_jobs(platform, relative.parent, 1)
    [cold], _ = run_jobs(platform, relative.parent, 1, env={"OMP_NUM_THREADS": "1"})
    assert (forked["preloaded"], cold["preloaded"]) == (FORKS, False)


def test_a_worker_with_another_import_time_setting_starts_cold(platform, folder):
    outputs, system = run_jobs(platform, folder, 1)
    assert outputs[0]["preloaded"] is FORKS
    outputs, system = run_jobs(platform, folder, 1, env={"OMP_NUM_THREADS": "1"})  # torch reads it when imported
    assert outputs[0] == {**outputs[0], "preloaded": False, "omp": "1"}
    assert "forked from" not in system


def test_fork_off_starts_every_worker_cold(platform, folder, monkeypatch):
    monkeypatch.setenv("PLAYBOOK_WORKER_FORK", "0")
    outputs, system = run_jobs(platform, folder, 1)
    assert not outputs[0]["preloaded"] and "forked from" not in system


def test_forked_workers_die_with_a_killed_platform(folder, tmp_path):
    """SIGKILL of the platform's process: the fork server sees its socket close and exits, and each forked worker
    sees its own lifeline close and kills its group."""
    script = textwrap.dedent(f"""
        import json, sys, time
        import playbook.local as local
        from playbook.local import EndpointConfig
        from playbook.core.waiting import wait_for
        p = local.start(record=False, log_dir={str(tmp_path / "logs")!r})
        cfg = p.create_endpoint(EndpointConfig(name="f", handler_path={str(folder / "handler.py")!r}, workers_min=2,
                                               workers_max=2))
        wait_for(lambda: len([w for w in p.list_workers(cfg.id) if w.pid]) == 2, 60)
        print(json.dumps([w.pid for w in p.list_workers(cfg.id)]), flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        pids = json.loads(proc.stdout.readline())
        assert len(pids) == 2 and all(group_alive(pid) for pid in pids)
        logs = (tmp_path / "logs").rglob("*.log.system")
        assert sum("forked from" in p.read_text() for p in logs) == (2 if FORKS else 0)
        assert bool(servers_of(folder)) is FORKS
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    wait_until(lambda: not any(group_alive(pid) for pid in pids), timeout_s=10)
    wait_until(lambda: not servers_of(folder), timeout_s=5)  # the server polls its socket every 0.2 s


def test_a_preimport_that_fails_leaves_its_workers_to_start_cold(platform, folder, caplog):
    (folder / "preimport.py").write_text("import fork_marker  # noqa: F401\nraise ImportError('no such module here')\n")
    outputs, system = run_jobs(platform, folder, 1)
    assert outputs[0]["preloaded"] is False and "forked from" not in system
    assert ("no fork server for" in caplog.text and "ImportError: no such module here" in caplog.text) is FORKS
