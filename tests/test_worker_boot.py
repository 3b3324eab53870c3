"""Cold-start helpers: background import, weight read-ahead, and the boot-time warm-up generation."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from playbook.handler.preview import WORKER_DIR, start_worker, worker_on_path
from playbook.weights.demo_model import make_demo_model

worker_on_path()
from imagegen import boot  # noqa: E402
from imagegen.service import WorkerSettings  # noqa: E402


def test_pending_returns_the_value_and_reraises_the_error():
    started = threading.Event()

    def work(x):
        started.set()
        return x * 2

    assert boot.Pending("double", work, 21).result(5) == 42 and started.is_set()

    def fail():
        raise ValueError("broken weights")

    with pytest.raises(ValueError, match="broken weights"):
        boot.Pending("fail", fail).result(5)


def test_import_in_background_gives_the_module_and_its_import_error():
    assert boot.import_in_background("json").result(5).dumps([1]) == "[1]"
    with pytest.raises(ModuleNotFoundError):
        boot.import_in_background("no_such_module_here").result(5)


def test_read_ahead_reads_every_weight_file_once(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "model.safetensors").write_bytes(b"x" * (boot.CHUNK_BYTES + 5))
    (tmp_path / "model_index.json").write_text("{}")  # not a weight file
    assert [p.name for p in boot.weight_files(tmp_path)] == ["model.safetensors"]
    assert boot.read_ahead(tmp_path).result(30) == boot.CHUNK_BYTES + 5
    assert boot.read_ahead(tmp_path / "missing").result(5) == 0


def test_read_ahead_reads_only_the_variant_from_pretrained_loads(tmp_path):
    for folder, names in {"unet": ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"],
                          "text_encoder": ["model.safetensors"]}.items():
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / name).write_bytes(b"x")
    plain = [p.relative_to(tmp_path).as_posix() for p in boot.weight_files(tmp_path)]
    assert plain == ["text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors"]
    fp16 = [p.relative_to(tmp_path).as_posix() for p in boot.weight_files(tmp_path, "fp16")]
    assert fp16 == ["text_encoder/model.safetensors", "unet/diffusion_pytorch_model.fp16.safetensors"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_demo_model(tmp_path_factory.mktemp("boot") / "tiny-sd")


def test_the_worker_warms_up_before_traffic_unless_told_not_to(model):
    warm = start_worker(model)
    assert warm.warmup_s is not None and warm.warmup_s > 0
    assert warm.served == {"ok": 0, "failed": 0}  # the warm-up is not a served job
    assert warm.health()["warmup_s"] == round(warm.warmup_s, 3)
    from imagegen.service import Worker

    cold = Worker.start(WorkerSettings(str(model), warm_up=False))
    assert cold.loaded is not None and cold.warmup_s is None


def test_worker_warmup_env_switch(monkeypatch):
    monkeypatch.setenv("WORKER_WARMUP", "0")
    assert WorkerSettings.from_env().warm_up is False
    monkeypatch.setenv("WORKER_WARMUP", "1")
    assert WorkerSettings.from_env().warm_up is True


@pytest.mark.slow  # a worker process (torch and diffusers imported again): not the quick tier
def test_handler_imports_the_sdk_in_the_background_and_registers_its_fitness_check(model):
    code = ("import handler, runpod, threading; "
            "assert handler.runpod is runpod and handler.sdk.result() is runpod; "
            "assert handler.worker.loaded is not None and handler.worker.warmup_s; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=WORKER_DIR, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MODEL_PATH": str(model)})
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
