"""Every notebook under notebooks/ runs headless under papermill; executed copies stay in the build folder.
A new notebook is picked up without editing this file."""

from __future__ import annotations

import pytest

from playbook.journey import notebooks


@pytest.mark.notebook
@pytest.mark.parametrize("path", notebooks.all_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path, executed_notebook):
    result = executed_notebook(path.stem)  # asserts that every cell ran
    assert result.executed.exists() and result.html and result.html.exists()
