"""Every notebook under notebooks/ runs headless under papermill; executed copies stay in the build folder.
A new notebook is picked up without editing this file."""

from __future__ import annotations

import pytest

from playbook import notebooks
from playbook.config import build_dir


@pytest.mark.notebook
@pytest.mark.parametrize("path", notebooks.all_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path):
    result = notebooks.run_notebook(path, out_dir=build_dir() / "test-notebooks")
    assert result.ok, f"{path.name} failed: {result.error} (executed copy: {result.executed})"
    assert result.executed.exists() and result.html and result.html.exists()
