"""The minimal worker (examples/minimal_worker): short, pinned like the lock, and it runs: in-process on the
demo model, as its own process with the runpod SDK's --test_input, and (docker tier) as an image whose layers are
recorded, with the production image's, in docs/measured/image_layers.json for notebook 04 without a daemon."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest

from playbook.core.config import REPO_ROOT
from playbook.handler import minimal, preview, tour
from playbook.image import layer_reference
from playbook.weights.demo_model import ensure_demo_model


def _pins(text: str) -> dict[str, str]:
    """name -> version of the ``name==version`` lines (a local version label such as +cpu dropped)."""
    return {m[1].lower(): m[2].split("+")[0] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, re.M)}


def test_the_minimal_handler_is_short_and_pinned_like_the_lock():
    code_lines = [line for line in minimal.source().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code_lines) <= 25, "keep the minimal handler about twenty lines"
    assert "runpod.serverless.start" in minimal.source() and "from_pretrained" in minimal.source()
    lock, pins = _pins((REPO_ROOT / "requirements.lock").read_text()), _pins(minimal.REQUIREMENTS.read_text())
    assert pins and {name: lock.get(name) for name in pins} == pins
    dockerfile = minimal.DOCKERFILE.read_text()
    assert "COPY handler.py" in dockerfile and "requirements.txt" in dockerfile and "CMD" in dockerfile


def test_every_addition_of_the_production_handler_is_found_in_it():
    found = tour.additions()
    assert [a.what for a in found] == [what for what, _, _ in tour.ADDITIONS]
    lines = tour.HANDLER.read_text().splitlines()
    assert all(lines[a.line - 1].strip() == a.text for a in found)
    assert "def load(" in tour.quote("pipeline", "load") and "from_pretrained" in tour.quote("pipeline", "load")


@pytest.mark.slow
def test_the_minimal_handler_runs_in_process_and_with_test_input(tmp_path):
    from PIL import Image

    model = ensure_demo_model()
    module = minimal.load(model)
    result = minimal.call(module, prompt="a lighthouse", width=64, height=64, num_inference_steps=2, seed=3)
    image = Image.open(io.BytesIO(base64.b64decode(result["image"])))
    assert image.size == (64, 64) and image.format == "PNG"
    again = minimal.call(module, prompt="a lighthouse", width=64, height=64, num_inference_steps=2, seed=3)
    assert again == result  # seeded: the same pixels
    run = preview.run_test_input({"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2},
                                 model, handler=minimal.HANDLER)
    assert run.ok, run.output[-2000:]


def test_the_recorded_layer_reference_is_dated_and_adds_up():
    reference = layer_reference.load()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", reference.date) and re.fullmatch(r"\d+\.\d+.*", reference.docker_version)
    assert set(reference.reports) == {"minimal", "production"}
    for report in reference.reports.values():
        assert sum(layer.size_mb for layer in report.layers) / 1000 == pytest.approx(report.total_gb, rel=0.02)
    assert reference.date in reference.sentence() and reference.docker_version in reference.sentence()


@pytest.mark.docker
def test_minimal_image_builds_and_both_images_layers_are_recorded(worker_image, tmp_path):
    """Builds examples/minimal_worker/Dockerfile (offline, from the wheelhouse served on loopback), checks it is
    linux/amd64 and holds no wheel, then records both images' layers as docs/measured/image_layers.json is recorded."""
    from playbook.image import build, dockerhost, first_image

    minimal_image = first_image.build_minimal(progress=False)
    assert build.check_platform(minimal_image.reference).ok
    reports = {"minimal": build.size_report(minimal_image.reference),
               "production": build.size_report(worker_image.reference)}
    for report in reports.values():
        assert sum(layer.size_mb for layer in report.layers) / 1000 == pytest.approx(report.total_gb, rel=0.02)
    assert reports["production"].largest().size_mb > 200  # the dependencies, torch among them
    listing = dockerhost.run_and_read(minimal_image.reference, ["python3", "-c", "import runpod, diffusers, torch; "
                                                                "import os; print(os.listdir('/tmp'))"]).stdout
    assert ".whl" not in listing  # the wheels were served, never copied in
    version = dockerhost.daemon_status().version
    # the record notebook 04 shows without a daemon, made here into a temporary file (the repository's copy is
    # refreshed on purpose: benchmarks/record_image_layers.py), then read back as 04 reads it
    path = layer_reference.record(reports, version, path=tmp_path / "image_layers.json")
    assert layer_reference.load(path).reports["minimal"].total_gb == reports["minimal"].total_gb
    recorded = json.loads(path.read_text())
    assert recorded["docker_version"] == version and set(recorded["images"]) == {"minimal", "production"}


def test_the_wheelhouse_is_served_for_pip_and_only_while_building(tmp_path):
    import urllib.error
    import urllib.request

    from playbook.image import first_image

    (tmp_path / "demo-1.0-py3-none-any.whl").write_bytes(b"wheel")
    with first_image.serve_folder(tmp_path) as url:
        assert "demo-1.0-py3-none-any.whl" in urllib.request.urlopen(url, timeout=5).read().decode()
        args = first_image.settings("local/python:3.11-slim", url).build_args()
        assert args == {"BASE_IMAGE": "local/python:3.11-slim", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": url}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    if url == f"http://127.0.0.1:{first_image._stable_port(tmp_path)}/":  # (another process may hold that port)
        with first_image.serve_folder(tmp_path) as again:
            assert again == url  # the same port next time: the same build argument, so the pip layer stays cached



@pytest.mark.slow
def test_the_minimal_handler_raises_what_diffusers_raises_on_a_bad_size():
    module = minimal.load(ensure_demo_model())
    said = minimal.refusal(module, prompt="x", width=65, height=64, num_inference_steps=1)
    assert said.startswith("ValueError: ") and "divisible by 8" in said
    assert minimal.refusal(module, prompt="x", width=64, height=64, num_inference_steps=1) is None
