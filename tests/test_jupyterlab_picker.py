"""A learner in JupyterLab: notebook 02 runs in a real browser, and its own checks pass for every pool its
picker offers, each chosen by selecting it in the rendered widget (so the kernel hears of the choice through
the widget's comm, as it does for a person, not through a papermill parameter).

Debian's `chromium`, driven by Playwright (its own browser download does not work here, so it is pointed at
the system binary). JupyterLab runs offline on loopback with a random token and its own config, data and
runtime folders; its kernel gets a build and state folder of its own, so the local platform it starts touches
nothing else. What the notebook reports is read from the file JupyterLab saves: no cell has an error output,
and the pool it glues as ``chosen_pool`` (and writes into the spec) is the one selected."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import tools
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from playbook.core.config import REPO_ROOT
from playbook.deploy.spec import load_spec
from playbook.journey import notebooks

CHROMIUM = tools.which("chromium", "chromium-browser")
pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.tool(
    "chromium", "chromium-browser", why="apt-get install chromium; .ci/run does")]

NOTEBOOK = notebooks.select(["02"])[0]
FIRST_RUN_MS = 300_000  # the whole notebook once: demo model, local platform, volume, S3 push
POOL_RUN_MS = 120_000  # the cells below the picker, once per pool
USER_SETTINGS = {  # offline: no news or update checks; every cell kept in the page (no windowing); saved on demand
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}

# The code cells' prompts as numbers: -1 queued or running ([*]), 0 never run ([ ]), else the execution count.
COUNTS = """[...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')].map(p =>
    p.textContent.includes('*') ? -1 : parseInt((p.textContent.match(/\\[(\\d+)\\]/) || [])[1] || '0'))"""
TRACEBACKS = """[...document.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText)
    .filter(t => t.includes('Traceback'))"""
# A run started: a cell is queued or running, or one ran after `before` (the last count seen before it).
RUN_STARTED = f"([before]) => {COUNTS}.some(n => n < 0 || n > before)"
# A run finished: nothing queued or running, and the last cell ran after `before` or a cell failed.
RUN_FINISHED = f"""([before]) => {{ const n = {COUNTS};
    return n.length > 0 && !n.includes(-1) && (n[n.length - 1] > before || {TRACEBACKS}.length > 0); }}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    """The JSON the server answers, or None while it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a copy of notebook 02, offline on loopback; yields (base URL, token, notebook path, log)."""
    root = tmp_path_factory.mktemp("lab")
    work, home = root / "work", root / "jupyter"
    work.mkdir()
    shutil.copy(NOTEBOOK, work / NOTEBOOK.name)
    for name, values in USER_SETTINGS.items():
        path = home / "config" / "lab" / "user-settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNPOD_", "JUPYTER"))}
    env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               JUPYTER_PLATFORM_DIRS="1", PLAYBOOK_BUILD_DIR=str(root / "build"),
               PLAYBOOK_STATE_DIR=str(root / "state"),
               PYTHONPATH=os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    port, token = free_port(), secrets.token_hex(16)
    log = root / "jupyterlab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
             "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while get_json(f"{base}/api/status?token={token}") is None:
            assert server.poll() is None and time.monotonic() < deadline, \
                f"JupyterLab did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)  # polling the server's status, not waiting for a guessed duration
        yield base, token, work / NOTEBOOK.name, log
    finally:
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10).close()  # stops the kernel (and its platform) too
            server.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    base, token, path, _ = lab
    external = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        # Nothing but the loopback server. Only other addresses are routed through Python: a handler for every
        # request would stall the page whenever this thread is not inside a Playwright call.
        context.route(re.compile(f"^(?!{re.escape(base)}/)"), lambda route: (
            external.append(route.request.url), route.abort()))
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(f"{base}/lab/tree/{path.name}?token={token}")
        # The page's own view of its kernel: before it reads Idle, Run All clears the prompts and runs nothing.
        tab.locator("#jp-main-statusbar").get_by_text(re.compile(r"^Python 3.*\| Idle$")).wait_for(timeout=120_000)
        tab.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click()  # the notebook is the current widget
        try:
            yield tab
            assert not external, f"the page asked for more than the loopback server: {external[:5]}"
        finally:
            browser.close()


def menu(page, top: str, item: str) -> None:
    """Click ``top`` in the menu bar, then ``item`` once it is enabled (it is while a notebook is current)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
    page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has=label).click()


def counts(page) -> list[int]:
    return page.evaluate(f"() => {COUNTS}")


def tracebacks(page) -> list[str]:
    return page.evaluate(f"() => {TRACEBACKS}")


def run_and_save(page, path: Path, timeout_ms: int, run) -> dict:
    """Run cells (``run`` clicks the menu), wait until they finished, save, and return the saved notebook."""
    before = max(counts(page))
    run()
    try:
        page.wait_for_function(RUN_STARTED, arg=[before], timeout=30_000, polling=100)
        page.wait_for_function(RUN_FINISHED, arg=[before], timeout=timeout_ms, polling=250)
    except PlaywrightTimeout as exc:
        shot = path.parent.parent / f"timeout-{time.time():.0f}.png"
        page.screenshot(path=shot, full_page=True)
        raise AssertionError(f"{exc}; prompts {counts(page)}; screenshot {shot}") from exc
    page.keyboard.press("Control+s")
    page.wait_for_selector(".lm-TabBar-tab.jp-mod-dirty", state="detached", timeout=60_000)
    saved = json.loads(path.read_text())
    assert max(c.get("execution_count") or 0 for c in saved["cells"]) == max(counts(page)), "saved before the run"
    return saved


def errors_in(saved: dict) -> list[str]:
    return [f"{o['ename']}: {o['evalue']}" for cell in saved["cells"] for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


def test_storage_notebook_checks_pass_for_each_pool_picked_in_jupyterlab(lab, page):
    _, _, path, log = lab
    saved = run_and_save(page, path, FIRST_RUN_MS, lambda: menu(page, "Run", "Run All Cells"))
    assert not errors_in(saved) and not tracebacks(page), (errors_in(saved), tracebacks(page),
                                                           log.read_text()[-2000:])
    first = notebooks.read_glued(path)

    picker = page.locator(".jp-OutputArea-output .widget-dropdown select")
    labels = picker.locator("option").all_inner_texts()  # "AMPERE_16: 16 GB, $0.58/h, stock HIGH in EU-RO-1"
    offered = [label.split(":")[0] for label in labels]
    assert offered == first["offered_pools"] and len(offered) >= 4, (labels, first["offered_pools"])
    assert first["chosen_pool"] == offered[0]  # nothing picked yet: the cheapest

    cells = page.locator(".jp-Notebook .jp-Cell")
    below = cells.nth(next(i for i in range(cells.count()) if cells.nth(i).locator(".widget-dropdown").count()) + 1)

    def run_below():
        below.locator(".jp-InputPrompt").click()
        menu(page, "Run", "Run Selected Cell and All Below")

    spec_file = path.parent.parent / "build" / "journey" / "spec.yaml"
    for pool, label in reversed(list(zip(offered, labels, strict=True))):  # the cheapest last: every pick a change
        picker.select_option(label=label)
        saved = run_and_save(page, path, POOL_RUN_MS, run_below)
        assert not errors_in(saved) and not tracebacks(page), (pool, errors_in(saved), tracebacks(page))
        values = notebooks.read_glued(path)
        assert values["chosen_pool"] == pool and values["offered_pools"] == offered, (pool, values)
        assert load_spec(spec_file).gpus == [pool]  # what notebook 05 deploys
