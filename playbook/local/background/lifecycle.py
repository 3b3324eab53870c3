"""Starting, stopping and inspecting a local platform that runs as a background process.

Why a separate process: notebooks and shells come and go; the platform (and its warm workers) can
outlive them. Its state file says where it is; stopping it sends SIGTERM so it stops its workers first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from playbook.core.config import REPO_ROOT, build_dir, local_state_file
from playbook.core.errors import PlatformError, WaitTimeout
from playbook.core.waiting import wait_for

START_TIMEOUT_S = 30


def read_state() -> dict | None:
    path = local_state_file()
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def running_state() -> dict | None:
    """The state of a live platform; a stale state file (dead pid) is removed."""
    state = read_state()
    if state and pid_alive(int(state.get("pid", 0))):
        return state
    if state:
        local_state_file().unlink(missing_ok=True)
    return None


def platform_log() -> Path:
    return build_dir() / "local" / "platform.log"


def up(endpoint: str = "demo", *, port: int = 0, handler: str | Path | None = None, image: str | None = None,
       volume: str | Path | None = None, workers_min: int = 0, workers_max: int = 2,
       idle_timeout_s: float = 5.0, strict: bool = False) -> dict:
    """Start the platform in the background with one endpoint ``endpoint`` ("" for none) and return its
    state (pid, job_api_url, log_dir, ...). The defaults are `playbook local up`'s."""
    if (state := running_state()) is not None:
        raise PlatformError(f"a local platform is already running at {state['job_api_url']} (pid {state['pid']}) "
                            "(or hangs, if it does not answer); stop it with `playbook local down` first.")
    argv = [sys.executable, "-m", "playbook.local.background.daemon", "--port", str(port), "--endpoint", endpoint,
            "--workers-min", str(workers_min), "--workers-max", str(workers_max), "--idle-timeout", str(idle_timeout_s)]
    argv += ["--strict"] if strict else []
    for flag, value in (("--handler", handler), ("--image", image), ("--volume", volume)):
        if value:
            argv += [flag, str(Path(value).resolve()) if flag != "--image" else value]
    log_path = platform_log()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=str(REPO_ROOT))

    def started() -> dict | None:
        state = read_state()
        if state and state.get("pid") == proc.pid:
            return state
        if proc.poll() is not None:
            last = tail(log_path, 1) or "(no output)"
            raise PlatformError(f"the local platform exited at start (code {proc.returncode}): {last[:300]}. "
                                f"Fix: read its log, {log_path} (`playbook local logs`).")
        return None

    try:
        return wait_for(started, START_TIMEOUT_S, what="the local platform to start", interval_s=0.1,
                        max_interval_s=0.1)
    except WaitTimeout:
        proc.kill()
        raise PlatformError(f"the local platform did not start within {START_TIMEOUT_S} s; see {log_path}") from None


def start_background() -> dict:
    """A platform with no endpoint yet (deploy creates them through the REST API), as `local up` starts it."""
    return up(endpoint="")


def down(timeout_s: float = 20.0) -> str:
    state = running_state()
    if state is None:
        return "no local platform is running"
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(WaitTimeout):
        wait_for(lambda: not pid_alive(pid), timeout_s, what=f"pid {pid} to exit", interval_s=0.1, max_interval_s=0.1)
    if pid_alive(pid):  # its workers die with it through their lifeline pipes
        os.kill(pid, signal.SIGKILL)
    local_state_file().unlink(missing_ok=True)
    return f"stopped the local platform (pid {pid}) and its workers"


def status() -> dict:
    """The running platform's /local/status; PlatformError (with the fix) when none runs or it fails."""
    from playbook.api.http import HttpClient

    state = running_state()
    if state is None:
        raise PlatformError("no local platform is running; start one with `playbook local up`.")
    base = state["job_api_url"].rsplit("/v2", 1)[0]
    client = HttpClient(base, state["api_key"], target="local", timeout_s=10, retries=1, backoff_s=0.1,
                        unreachable_hint="Fix: restart it (`playbook local down`, then `playbook local up`).")
    return client.request("GET", "/local/status")


def format_status(status: dict) -> str:
    mode = "strict" if status.get("strict") else "lenient default (`playbook local up --strict`: as RunPod)"
    lines = [f"local platform {status['url']} (pid {status['pid']}), {mode}"]
    for ep in status["endpoints"]:
        cfg, health = ep["config"], ep["health"]
        lines.append(f"endpoint {cfg['id']} ({cfg['name']}): workers {cfg['workers_min']}..{cfg['workers_max']}, "
                     f"idle timeout {cfg['idle_timeout_s']} s, handler {cfg['handler_path']}")
        lines.append(f"  jobs {health['jobs']}")
        lines.append(f"  workers {health['workers']}")
        for w in ep["workers"]:
            cold = f"{w['cold_start_s']:.2f} s" if w["cold_start_s"] is not None else "-"
            ping = f"{w['last_ping_age_s']:.1f} s ago" if w.get("last_ping_age_s") is not None else "-"
            lines.append(f"  {w['id']}  {w['state']:<12} pid {w['pid']}  cold start {cold}  jobs {w['jobs_done']}  "
                         f"last ping {ping}")
    return "\n".join(lines)


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def logs(endpoint: str | None = None, worker: str | None = None, lines: int = 40) -> str:
    state = read_state() or {}
    log_dir = Path(state.get("log_dir") or build_dir() / "local" / "logs")
    parts = []
    if not endpoint and not worker and platform_log().exists():
        parts.append(f"==> {platform_log()} <==\n{tail(platform_log(), lines)}")
    files = sorted(log_dir.glob(f"{endpoint or '*'}/{worker or '*'}.log"), key=lambda p: p.stat().st_mtime)
    for path in files:
        parts.append(f"==> {path} <==\n{tail(path, lines)}")
    return "\n\n".join(parts) if parts else f"no logs yet under {log_dir}"
