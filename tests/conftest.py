"""Shared test set-up: an isolated build folder and local-platform state per session, and the
skip rules for the tiers (docker, gpu, live_runpod)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_state(tmp_path_factory):
    """Keep tests from touching a developer's running local platform or ~/.cache."""
    state = tmp_path_factory.mktemp("state")
    old = os.environ.get("PLAYBOOK_STATE_DIR")
    os.environ["PLAYBOOK_STATE_DIR"] = str(state)
    yield state
    if old is None:
        os.environ.pop("PLAYBOOK_STATE_DIR", None)
    else:
        os.environ["PLAYBOOK_STATE_DIR"] = old
