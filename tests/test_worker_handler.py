"""The worker in-process on the demo pipeline: real images, seeds, errors, size caps, OOM, health."""

from __future__ import annotations

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from playbook.handler.preview import decode_images, start_worker
from playbook.weights.demo_model import make_demo_model

pytestmark = pytest.mark.slow  # real diffusers pipelines through the worker, seconds per test

FAST = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "num_inference_steps": 2}


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    return start_worker(make_demo_model(tmp_path_factory.mktemp("handler") / "tiny-sd"))


def run(worker, **fields):
    return worker.handle({"id": "job-1", "input": {**FAST, **fields}})


def pixels(result, i=0):
    return np.asarray(decode_images(result)[i])


def test_images_of_the_requested_size_with_their_seeds(worker):
    result = run(worker, width=96, height=64, seed=7, num_images=2)
    assert "error" not in result
    assert [item["seed"] for item in result["images"]] == [7, 8]
    images = decode_images(result)
    assert [im.size for im in images] == [(96, 64), (96, 64)] and images[0].format == "PNG"
    assert result["device"] == "cpu" and result["dtype"] == "fp32"
    assert pixels(result).std() > 0  # not a blank image


def test_same_seed_same_image_and_another_seed_another(worker):
    a, b, c = run(worker, seed=1), run(worker, seed=1), run(worker, seed=2)
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))
    # image i of a batch uses seed + i, so it can be reproduced alone
    batch = run(worker, seed=1, num_images=2)
    diff = np.abs(pixels(batch, 1).astype(int) - pixels(c).astype(int))
    assert diff.max() <= 2, diff.max()  # batched float math may round a pixel differently
    random_seed = run(worker)["images"][0]["seed"]
    assert isinstance(random_seed, int) and 0 <= random_seed < 2**32


@pytest.mark.parametrize("fmt, pil", [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_formats(worker, fmt, pil):
    result = run(worker, output_format=fmt, seed=3)
    assert decode_images(result)[0].format == pil and result["output_format"] == fmt


def test_progress_is_reported_per_denoising_step(worker):
    steps = []
    worker.handle({"id": "p", "input": {**FAST, "num_inference_steps": 3}}, on_step=lambda s, n: steps.append((s, n)))
    assert steps == [(1, 3), (2, 3), (3, 3)]


BAD = [
    ({"prompt": None}, "'prompt' = None is invalid"),
    ({"width": 65}, "'width' = 65 is invalid"),
    ({"height": 8}, "from 64 to 2048"),
    ({"num_inference_steps": "2"}, "'num_inference_steps' = '2' is invalid"),
    ({"guidance_scale": "high"}, "'guidance_scale' = 'high'"),
    ({"num_images": 9}, "from 1 to 8"),
    ({"action": "upscale"}, "unknown action 'upscale'; allowed actions: generate, health_check"),
    ({"output_format": "bmp"}, "one of png, jpeg, webp"),
]


def test_bad_requests_get_string_errors_and_the_worker_keeps_serving(worker):
    failed_before = worker.served["failed"]
    for fields, words in BAD:
        result = run(worker, **fields)
        assert set(result) == {"error"} and isinstance(result["error"], str), fields
        assert words in result["error"], result["error"]
    missing = worker.handle({"id": "m", "input": {"width": 64}})
    assert "'prompt' is required" in missing["error"]
    assert "must be a JSON object" in worker.handle({"id": "s", "input": "draw"})["error"]
    assert worker.served["failed"] == failed_before + len(BAD) + 2
    good = run(worker, seed=5)
    assert "error" not in good and decode_images(good)[0].size == (64, 64)


def test_an_output_over_the_payload_cap_is_refused_with_the_bucket_fix(worker, monkeypatch):
    ok = run(worker, seed=1, num_images=2)
    encoded = sum(len(i["image"]) for i in ok["images"])
    monkeypatch.setenv("WORKER_MAX_OUTPUT_BYTES", str(encoded - 1))  # the real encoded size decides
    result = run(worker, seed=1, num_images=2)
    assert set(result) == {"error"}
    message = result["error"]
    assert f"{encoded / 1e6:.2f} MB as base64" in message and "10 MB for /run, 20 MB for /runsync" in message
    assert "BUCKET_ENDPOINT_URL" in message and "BUCKET_ACCESS_KEY_ID" in message
    monkeypatch.setenv("WORKER_MAX_OUTPUT_BYTES", str(encoded))
    assert "error" not in run(worker, seed=1, num_images=2)


def test_default_cap_is_runs_10_mb(monkeypatch):
    from imagegen import outputs

    monkeypatch.delenv("WORKER_MAX_OUTPUT_BYTES", raising=False)
    assert outputs.limit_bytes() == 10_000_000


def test_cuda_out_of_memory_is_a_clear_error_and_the_worker_keeps_serving(worker, monkeypatch):
    import torch

    pipe = worker.loaded.pipe
    cls = type(pipe)

    def out_of_memory(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(cls, "__call__", out_of_memory)  # the pipeline fails the way a full GPU does
    result = run(worker, width=128, height=96, num_images=3)
    assert set(result) == {"error"}
    assert "CUDA out of memory for 128x96 x 3 image(s) (width x height x num_images)" in result["error"]
    assert "keeps serving" in result["error"]
    monkeypatch.undo()
    assert "error" not in run(worker, seed=1)


def test_other_pipeline_failures_propagate_to_runpod(worker, monkeypatch):
    monkeypatch.setattr(type(worker.loaded.pipe), "__call__", lambda self, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run(worker)


def test_health_check_reports_model_device_dtype_and_versions(worker):
    health = worker.handle({"id": "h", "input": {"action": "health_check"}})
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert health["device"] == "cpu" and health["dtype"] == "fp32"
    assert health["pipeline"] == "StableDiffusionPipeline"
    assert health["attention"] == ["AttnProcessor2_0"]  # PyTorch SDPA
    assert health["versions"]["runpod"] == "1.12.0" and health["versions"]["diffusers"].startswith("0.42")
    assert "vram_free_gb" not in health  # no GPU here


def test_bf16_is_selectable(worker):
    bf16 = start_worker(worker.settings.model_path, dtype="bf16")
    assert bf16.loaded.dtype == "bf16" and str(bf16.loaded.pipe.unet.dtype) == "torch.bfloat16"
    assert "error" not in bf16.handle({"id": "b", "input": {**FAST, "seed": 1}})
    bad = start_worker(worker.settings.model_path, dtype="fp8")
    assert bad.loaded is None and "WORKER_DTYPE must be auto, fp16, bf16, fp32, not 'fp8'" in bad.problem


class _Bucket(BaseHTTPRequestHandler):
    """The smallest S3: PutObject stores the body under the path."""

    store: dict = {}

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.store[self.path.split("?")[0]] = body
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_with_a_bucket_images_are_uploaded_through_rp_upload(worker, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bucket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("BUCKET_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
        result = run(worker, seed=11)
        assert "BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY is not" in result["error"]
        monkeypatch.setenv("BUCKET_ACCESS_KEY_ID", "test-id")
        monkeypatch.setenv("BUCKET_SECRET_ACCESS_KEY", "test-secret")
        monkeypatch.setenv("BUCKET_NAME", "outputs")
        result = worker.handle({"id": "job-up", "input": {**FAST, "seed": 11}})
        assert "error" not in result, result
        [item] = result["images"]
        assert item["seed"] == 11 and "image" not in item
        assert item["url"].startswith(f"http://127.0.0.1:{server.server_port}/outputs/job-up/0-11.png?")
        stored = _Bucket.store["/outputs/job-up/0-11.png"]
        assert Image.open(io.BytesIO(stored)).size == (64, 64)
        monkeypatch.delenv("BUCKET_ENDPOINT_URL")
        inline = run(worker, seed=11)
        assert base64.b64decode(inline["images"][0]["image"]) == stored
    finally:
        server.shutdown()


def test_fields_a_pipeline_does_not_take_are_refused_only_when_asked_for(worker):
    from imagegen import pipeline, schema

    class NoNegativePrompt:  # the signature of a pipeline without negative prompts (e.g. some DiT pipelines)
        def __call__(self, prompt, width, height, num_inference_steps, guidance_scale, num_images_per_prompt,
                     generator, callback_on_step_end=None):
            pass

    request = schema.parse_generate({"prompt": "x", "seed": 1})
    args = pipeline.call_arguments(NoNegativePrompt(), request, generators=["g"])
    assert "negative_prompt" not in args and args["prompt"] == "x" and args["generator"] == ["g"]
    asked = schema.parse_generate({"prompt": "x", "negative_prompt": "blur"})
    with pytest.raises(pipeline.Unsupported, match="NoNegativePrompt does not take negative_prompt: leave it out"):
        pipeline.call_arguments(NoNegativePrompt(), asked, generators=[])
    # the demo (Stable Diffusion) pipeline takes it: None is passed only when asked for
    sd_args = pipeline.call_arguments(worker.loaded.pipe, request, generators=[])
    assert "negative_prompt" not in sd_args
    assert pipeline.call_arguments(worker.loaded.pipe, asked, generators=[])["negative_prompt"] == "blur"
