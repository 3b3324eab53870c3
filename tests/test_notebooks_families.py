"""Notebooks 01, 02, 03 and 05 with a model a user brings (`-p model_dir=...`, no other flag): a tiny SDXL
and an SD saved only as an fp16 variant. 01 analyses it exactly, 02 pushes what the worker loads, 03 serves it
in-process and 05's endpoint on the local platform completes a job with it. 03 does not also run its minimal handler
as a process (``run_test_input=False``, about 10 s each): that process runs the same file's loading code that 03
runs in-process with this model, and the journey (tests/test_notebooks_chain.py) runs it as a process."""

from __future__ import annotations

import pytest

from playbook.journey import notebooks
from playbook.weights import analyze


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("fixture,pipeline,variant", [("sdxl_model", "StableDiffusionXLPipeline", None),
                                                      ("fp16_only_model", "StableDiffusionPipeline", "fp16")])
def test_a_brought_model_goes_through_01_02_03_05(fixture, pipeline, variant, request, tmp_path, monkeypatch):
    model = request.getfixturevalue(fixture)
    monkeypatch.setenv("PLAYBOOK_BUILD_DIR", str(tmp_path / "build"))
    runs = notebooks.run_all(notebooks.select(["01", "02", "03", "05"]), out_dir=tmp_path / "out",
                             parameters=notebooks.parse_parameters([f"model_dir={model}", "run_test_input=False"]))
    failed = {r.name: r.error for r in runs if not r.ok}
    assert not failed, failed
    glued = {r.name[:2]: r.glued for r in runs}
    expected = analyze.analyze(model, dtype="float16")
    assert glued["01"]["params"] == expected.params and glued["01"]["files"] == expected.files()
    assert glued["01"]["recorded_analysis"]["variant"] == variant
    assert glued["02"]["verified"] is True
    assert glued["03"]["health"]["pipeline"] == pipeline and glued["03"]["health"]["variant"] == variant
    assert glued["03"]["minimal"]["pipeline"] == pipeline and glued["03"]["test_input_ok"] is None
    assert glued["05"]["first_job"]["status"] == "COMPLETED"
