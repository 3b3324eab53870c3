"""The bake placement: the model inside an image, world-readable, MODEL_PATH set, manifest beside it."""

from __future__ import annotations

import json

import pytest
import tools

from playbook.image import bake, dockerhost
from playbook.storage import volume
from playbook.weights import demo_model


@pytest.mark.docker
def test_bake_model_into_an_image(docker_daemon, tmp_path):
    base = dockerhost.local_base_image()
    if not dockerhost.image_exists(base):
        tools.missing(f"the local base image {base} is missing: run scripts/services.sh")
    model = demo_model.make_demo_model(tmp_path / "tiny-sd")
    baked = bake.bake_model(base, model, tag="runpod-playbook-test:baked-tiny")
    client = dockerhost.client()
    try:
        assert baked.model_path == "/models/tiny-sd"
        assert client.images.get(baked.reference).attrs["Config"]["Env"].count("MODEL_PATH=/models/tiny-sd") == 1
        script = ("import json, os; m = json.load(open(os.environ['MODEL_PATH'] + '/.playbook-manifest.json')); "
                  "print(json.dumps({f['path']: os.path.getsize(os.environ['MODEL_PATH'] + '/' + f['path']) "
                  "for f in m['files']}))")
        out = dockerhost.run_and_read(baked.reference, ["python3", "-c", script], user="nobody").stdout
        sizes = json.loads(out)
        assert sizes == {e.path: e.size_bytes for e in volume.local_manifest(model)}
        assert baked.weights_bytes == sum(sizes.values())
    finally:
        client.images.remove(baked.reference, force=True)
