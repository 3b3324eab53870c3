"""Clean outputs: no warnings, tracebacks or unrounded floats in any executed notebook or its HTML copy."""

from __future__ import annotations

import json

import pytest

from playbook.journey import notebooks
from playbook.journey.output_scan import scan_html, scan_notebook


def test_the_scanner_finds_what_a_reader_should_not_see(tmp_path):
    def out(data=None, **kw):
        return {"output_type": "execute_result", "data": data, **kw} if data else kw

    cells = [{"cell_type": "code", "outputs": outputs} for outputs in (
        [{"output_type": "stream", "name": "stderr", "text": "x.py:3: FutureWarning: old\n"}],
        [{"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []}],
        [out({"text/plain": "price 0.00015999999999999999 $/s"})],
        [out({"text/plain": "Obj(seconds=26.978782152)", "text/html": "<b>27.0 s</b>"})],  # html is what shows
        [out({"text/plain": "0.00016 $/s, 1.5 GB, sha256:84de9f7b2dda2605"})],
    )]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    found = {(f.where, f.kind) for f in scan_notebook(path)}
    assert found == {("cell 0", "warning"), ("cell 1", "traceback"), ("cell 2", "long float")}
    page = tmp_path / "nb.html"
    page.write_text('<div class="jp-OutputArea-output">UserWarning: careful</div><pre>1.123456789 in source</pre>')
    assert [f.kind for f in scan_html(page)] == ["warning"]


@pytest.mark.notebook
@pytest.mark.parametrize("path", notebooks.all_notebooks(), ids=lambda p: p.stem)
def test_executed_notebook_and_html_copy_are_clean(path, executed_notebook):
    run = executed_notebook(path.stem)
    findings = scan_notebook(run.executed) + (scan_html(run.html) if run.html else [])
    assert not findings, "\n".join(map(str, findings))
