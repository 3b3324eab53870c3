"""The switch that keeps CI honest: without a tool a test skips and says what to install; with
PLAYBOOK_REQUIRE_TOOLS=1 (.ci/run) it fails instead. And no test skips for a tool by itself, around the switch."""

from __future__ import annotations

import re

import pytest
import tools

from playbook.core.config import REPO_ROOT

ABSENT = "no-such-tool-for-playbook-tests"
# skips that are not about a tool: a RunPod key CI does not have; the CUDA image only on request; no GPU in CI
GPU_REASON = re.compile(r"CUDA|NVIDIA")  # a skip about the GPU itself (the ``gpu`` marker's case), not a tool
NOT_A_TOOL = {"tests/test_live_runpod.py", "tests/conftest.py", "tests/tools.py", "tests/test_tools.py"}


def test_a_missing_tool_skips_here_and_fails_where_tools_are_required(monkeypatch):
    monkeypatch.delenv(tools.SWITCH, raising=False)
    assert tools.need("definitely-absent", "sh").endswith("/sh")  # the first of the alternatives on PATH
    with pytest.raises(pytest.skip.Exception, match=f"needs {ABSENT}, not installed here"):
        tools.need(ABSENT)
    monkeypatch.setenv(tools.SWITCH, "0")
    with pytest.raises(pytest.skip.Exception):
        tools.missing("no Docker daemon reachable")
    monkeypatch.setenv(tools.SWITCH, "1")
    with pytest.raises(pytest.fail.Exception, match=f"needs {ABSENT}.*PLAYBOOK_REQUIRE_TOOLS is set"):
        tools.need(ABSENT)


def test_every_skip_for_a_tool_goes_through_the_switch():
    direct = re.compile(r"pytest\.skip\(|\.skipif\(|importorskip\(|mark\.skip\(")
    found = [f"{path.relative_to(REPO_ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
             for path in sorted((REPO_ROOT / "tests").rglob("*.py")) if path.relative_to(REPO_ROOT).as_posix()
             not in NOT_A_TOOL for text in [path.read_text()] for m in direct.finditer(text)
             if not GPU_REASON.search(text[m.start():text.find(chr(10), m.start())])]
    assert found == [], "skip through tools.missing / tools.need / @pytest.mark.tool, so CI fails instead"
