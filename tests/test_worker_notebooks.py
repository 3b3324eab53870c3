"""The worker's notebooks (00_quickstart, 03_handler) publish their key results; check them, not just
that the notebooks ran: the journey's runs (tests/conftest.py), and 03 alone where it proves what the journey
does not (a brought model at its native size)."""

from __future__ import annotations

import pytest

from playbook.journey import notebooks


def run(name, tmp_path, **parameters):
    [path] = notebooks.select([name])
    result = notebooks.run_notebook(path, out_dir=tmp_path, parameters=parameters, html=False)
    assert result.ok, f"{name}: {result.error} (executed copy: {result.executed})"
    return result.glued


def defaults(name: str) -> dict:
    """A notebook's parameters as its parameters cell sets them (what the journey ran it with)."""
    import ast

    import papermill

    [path] = notebooks.select([name])
    return {k: ast.literal_eval(v["default"]) for k, v in papermill.inspect_notebook(str(path)).items()}


@pytest.mark.notebook
def test_quickstart_makes_the_demo_model_and_a_first_image(executed_notebook):
    glued, asked = executed_notebook("00").glued, defaults("00")  # the journey's run, with its defaults
    assert 0 < glued["demo_model_size_mb"] < 5
    assert glued["image_size"] == [asked["width"], asked["height"]] and glued["seed"] == asked["seed"]
    # the local-platform section (issue 3): the same job through RunPod's job API, same pixels
    assert glued["local_states"][-1] == "COMPLETED" and glued["local_same_pixels"] is True


@pytest.mark.notebook
def test_handler_notebook_shows_images_errors_and_test_input(executed_notebook):
    # the journey's run: its defaults, on the model it brought in (demo-sized, in a folder of another name)
    glued, asked = executed_notebook("03").glued, defaults("03")
    n, seed = asked["num_images"], asked["seed"]
    assert n > 1 and glued["image_sizes"] == [[asked["width"], asked["height"]]] * n
    assert glued["seeds"] == list(range(seed, seed + n))
    assert glued["reproducible"] is True
    assert "'width' = 65 is invalid" in glued["bad_request_error"]
    assert "'num_inference_steps' = 500" in glued["bad_request_error"]
    assert glued["unknown_action_error"] == "unknown action 'upscale'; allowed actions: generate, health_check"
    assert glued["health"] == {"status": "ok", "pipeline": "StableDiffusionPipeline", "variant": None,
                               "default_size": "64x64", "device": "cpu", "dtype": "fp32", "model_loaded": True}
    assert glued["test_input_ok"] is True
    # the minimal handler ran first, in-process and with --test_input, on the same model
    assert glued["minimal"] == {"pipeline": "StableDiffusionPipeline", "image_size": [64, 64], "test_input_ok": True}
    assert glued["additions"][:3] == ["timing marks", "quiet SDK log", "background import"]
    assert glued["minimal_bad_request"].startswith("ValueError: ")  # diffusers' own exception, unvalidated


@pytest.mark.notebook
def test_handler_notebook_serves_a_brought_model_at_its_native_size(pixart_model, tmp_path):
    glued = run("03_handler", tmp_path, model_dir=str(pixart_model), width=0, height=0, num_images=1,
                run_test_input=False)
    assert glued["health"]["pipeline"] == "PixArtSigmaPipeline" and glued["health"]["default_size"] == "256x256"
    assert glued["image_sizes"] == [[256, 256]]  # no size asked: the model's own
    # model_dir is honoured by the minimal handler too: it loaded the brought model, not the demo one
    assert glued["model_path"] == str(pixart_model)
    assert glued["minimal"] == {"pipeline": "PixArtSigmaPipeline", "image_size": [256, 256], "test_input_ok": None}
