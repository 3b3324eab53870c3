"""The tools the tests take from the machine: the Docker daemon, its registry and local base image
(scripts/services.sh), jq and node for the client examples, chromium for the browser tests.

Without one, a test skips and says what to install. With ``PLAYBOOK_REQUIRE_TOOLS=1`` (CI: ``.ci/run`` installs
every tool and sets it) the same case is a failure, so CI never passes by not testing. The one exception is the
``gpu`` marker: CI has no GPU, so those tests skip without CUDA even there (conftest.py).
"""

from __future__ import annotations

import shutil

import pytest

from playbook.core import settings

SWITCH = "PLAYBOOK_REQUIRE_TOOLS"


def required() -> bool:
    """Whether a missing tool is an error here (CI) rather than a skip."""
    return (settings.env(SWITCH) or "0") not in ("0", "false", "no")


def missing(reason: str) -> None:
    """Skip with ``reason``; fail instead where PLAYBOOK_REQUIRE_TOOLS is set."""
    if required():
        pytest.fail(f"{reason}; {SWITCH} is set (as in CI), so a missing tool is an error", pytrace=False)
    pytest.skip(reason)


def which(*names: str) -> str | None:
    """The path of the first of ``names`` on PATH (alternatives: ``which("chromium", "chromium-browser")``)."""
    return next((path for path in map(shutil.which, names) if path), None)


def need(*names: str, why: str = "") -> str:
    """The path of the first of ``names`` on PATH, or ``missing()`` naming them."""
    path = which(*names)
    if path is None:
        missing(f"needs {' or '.join(names)}, not installed here{f' ({why})' if why else ''}")
    return path
