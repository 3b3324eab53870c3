"""The control API's contract tests: each module gets a local platform of its own (with its own build folder)
and a ``ControlClient`` on it whose every request and response is validated against RunPod's REST v2 spec."""

from __future__ import annotations

import pytest
from local_support import platform_with_own_build_dir
from openapi_contract import ContractRecorder

from playbook.api.control import ControlClient


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with platform_with_own_build_dir(tmp_path_factory.mktemp("build"), record=False) as plat:
        yield plat


@pytest.fixture()
def client(platform):
    """Fails the test when an exchange breaks the spec, or when the test made none."""
    client = ControlClient(platform.target, retries=0)
    recorder = ContractRecorder(client)
    yield client
    recorder.check()
    assert recorder.exchanges, "no exchange was validated"
