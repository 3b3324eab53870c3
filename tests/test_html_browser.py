"""A real browser opens every HTML copy with the network off: outputs are not empty, images (plots)
load, the pool picker shows its options and progress bars draw. Debian's `chromium`, driven by
Playwright (its own browser download does not work here, so it is pointed at the system binary)."""

from __future__ import annotations

import pytest
import tools

from playbook.journey import notebooks

CHROMIUM = tools.which("chromium", "chromium-browser")
pytestmark = [pytest.mark.notebook, pytest.mark.tool(
    "chromium", "chromium-browser", why="apt-get install chromium; .ci/run does")]

EMPTY_OUTPUTS = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output')).filter(o =>
    !o.innerText.trim() && !o.querySelector('img, svg, select, progress, table')).length"""
BROKEN_IMAGES = "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_offline(browser, html_path):
    context = browser.new_context(offline=True)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else route.abort())
    page = context.new_page()
    page.goto(html_path.resolve().as_uri(), wait_until="load")
    return context, page


@pytest.mark.parametrize("path", notebooks.all_notebooks(), ids=lambda p: p.stem)
def test_html_copy_renders_offline(path, browser, executed_notebook):
    run = executed_notebook(path.stem)
    context, page = open_offline(browser, run.html)
    try:
        assert page.evaluate(EMPTY_OUTPUTS) == 0, "an output renders as nothing offline"
        assert page.evaluate(BROKEN_IMAGES) == 0, "an image (plot) does not load offline"
        if path.stem.startswith("02"):
            options = page.locator("select option")
            assert options.count() >= 4 and page.locator("select option[selected]").count() == 1
        if path.stem.startswith("06"):
            assert page.locator(".jp-OutputArea-output img").count() >= 2  # job times and the timeline
            assert page.locator(".jp-OutputArea-output table").count() >= 1
        if page.locator("progress").count():
            assert page.locator("progress").first.is_visible()
    finally:
        context.close()
