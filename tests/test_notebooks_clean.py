"""Notebooks are committed clean (no outputs, no execution counts) and follow the template:
a title, a `parameters` cell, and no secrets among the parameters."""

from __future__ import annotations

import json

import pytest

from playbook.core.secrets import KNOWN_SECRETS
from playbook.journey import notebooks


@pytest.mark.parametrize("path", notebooks.all_notebooks(), ids=lambda p: p.stem)
def test_notebook_is_stripped_and_has_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{path.name} has outputs: run `nbstripout {path}`")
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    source = "".join(params[0]["source"])
    for name in KNOWN_SECRETS:
        assert name not in source, f"{path.name}: {name} must come from the environment, not a parameter"
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown" and "".join(first["source"]).startswith("# "), (
        f"{path.name} must open with a markdown title")


def test_there_are_notebooks():
    assert notebooks.all_notebooks(), "notebooks/ holds no NN_name.ipynb notebooks"
