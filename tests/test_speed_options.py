"""The worker's speed options (imagegen/speed.py) on a real tiny pipeline: each one loads, draws an image, and
the lossless ones draw eager's image within rounding; bad settings fail the load naming the variable."""

from __future__ import annotations

import numpy as np
import pytest

from playbook.core.config import worker_on_path
from playbook.weights.demo_model import make_demo_model

worker_on_path()

from imagegen import pipeline, schema, speed  # noqa: E402
from imagegen.service import Worker, WorkerSettings  # noqa: E402

REQUEST = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 5}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(make_demo_model(tmp_path_factory.mktemp("speed") / "tiny-sd"))


def image(model: str, options: speed.Options) -> tuple[np.ndarray, list[str]]:
    loaded = pipeline.load(model, "cpu", "fp32", options=options)
    [(picture, _)] = pipeline.generate(loaded, schema.parse_generate(REQUEST))
    return np.asarray(picture).astype(int), loaded.speed


@pytest.fixture(scope="module")
def eager(model):
    return image(model, speed.Options())[0]


@pytest.mark.parametrize(("options", "applied"), [
    (speed.Options(channels_last=True), "channels_last"),
    (speed.Options(fuse_qkv=True), "fused_qkv"),
    (speed.Options(sdpa_backend="math"), "sdpa:math"),
    (speed.Options(sdpa_backend="flash"), "sdpa:flash"),
])
def test_each_lossless_option_draws_eagers_image(model, eager, options, applied):
    picture, speed_applied = image(model, options)
    assert applied in speed_applied
    assert picture.shape == eager.shape == (64, 64, 3)
    assert np.abs(picture - eager).max() <= 2  # float rounding only, in 8-bit pixels


@pytest.mark.slow
@pytest.mark.parametrize("how", ["blocks", "unet"])
def test_compiled_unet_draws_eagers_image_and_fills_the_compile_cache(model, eager, tmp_path, monkeypatch, how):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "")  # restored after the test (apply sets it)
    cache = tmp_path / "compile-cache"
    picture, applied = image(model, speed.Options(compile=how, compile_cache=str(cache)))
    assert applied[0] == f"compile:{how}"
    assert np.abs(picture - eager).max() <= 2
    assert any(p.is_file() for p in cache.rglob("*"))  # the compiled kernels live where the setting says


def test_options_come_from_the_environment_and_cuda_graphs_say_they_do_not_apply_on_the_cpu(model):
    options = speed.Options.from_env({"WORKER_CHANNELS_LAST": "1", "WORKER_FUSE_QKV": "on",
                                      "WORKER_SDPA_BACKEND": "Flash", "WORKER_COMPILE": "blocks",
                                      "WORKER_CUDA_GRAPHS": "1", "WORKER_COMPILE_CACHE": "/runpod-volume/tc"})
    assert options == speed.Options(True, True, "flash", "blocks", True, "/runpod-volume/tc")
    assert speed.Options.from_env({}) == speed.Options()
    # compiling is lazy (the first generation), so applying the settings alone is quick
    loaded = pipeline.load(model, "cpu", "fp32", options=speed.Options(compile="blocks", cuda_graphs=True))
    assert loaded.speed == ["compile:blocks", "cuda_graphs:not_on_cpu", "host_timesteps"]


@pytest.mark.parametrize(("env", "named"), [
    ({"WORKER_COMPILE": "fast"}, "WORKER_COMPILE must be one of off, blocks, unet, not 'fast'"),
    ({"WORKER_SDPA_BACKEND": "efficient"}, "WORKER_SDPA_BACKEND must be auto or one of flash, math on cpu"),
    ({"WORKER_CUDA_GRAPHS": "1"}, "WORKER_CUDA_GRAPHS=1 needs WORKER_COMPILE=blocks or unet"),
    ({"WORKER_FUSE_QKV": "maybe"}, "WORKER_FUSE_QKV must be 0 or 1, not 'maybe'"),
])
def test_a_bad_speed_setting_is_the_workers_problem_naming_the_variable(model, monkeypatch, env, named):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MODEL_PATH", model)
    monkeypatch.setenv("WORKER_DEVICE", "cpu")
    worker = Worker.start(WorkerSettings.from_env())
    assert worker.loaded is None and named in worker.problem
    assert named in worker.handle({"id": "j", "input": REQUEST})["error"]  # every job says it, none crashes


def test_flash_attention_in_fp32_on_a_gpu_is_refused_before_loading():
    with pytest.raises(ValueError, match="WORKER_SDPA_BACKEND=flash needs WORKER_DTYPE fp16 or bf16"):
        speed.Options(sdpa_backend="flash").check("cuda", "fp32")
    speed.Options(sdpa_backend="flash").check("cuda", "fp16")


def test_health_reports_the_speed_options_in_effect(model):
    worker = Worker.start(WorkerSettings(model, "cpu", "fp32", warm_up=False, speed=speed.Options(fuse_qkv=True)))
    health = worker.handle({"id": "h", "input": {"action": "health_check"}})
    assert health["speed"] == ["fused_qkv", "host_timesteps"]
    assert "FusedAttnProcessor2_0" in health["attention"]


@pytest.mark.slow
def test_a_compile_that_cannot_work_here_falls_back_to_eager_at_warm_up(model, tmp_path, monkeypatch):
    """No C++ compiler for inductor (as in a slim image): the warm-up's compile fails, the worker sets the
    compile aside, serves eager and says so; jobs succeed."""
    import torch
    import torch._inductor.config as inductor_config

    torch._dynamo.reset()  # nothing compiled earlier in this process may stand in for the compile
    monkeypatch.setattr(inductor_config.cpp, "cxx", ("/nonexistent/g++",))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "")
    options = speed.Options(compile="blocks", compile_cache=str(tmp_path / "cache"))
    worker = Worker.start(WorkerSettings(model, "cpu", "fp32", warm_up=True, speed=options))
    torch._dynamo.reset()
    assert worker.loaded.speed[0] == "compile:blocks:failed_eager" and worker.warmup_s is not None
    assert "images" in worker.handle({"id": "j", "input": REQUEST})
