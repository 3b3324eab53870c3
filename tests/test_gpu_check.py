"""benchmarks/gpu_check.py keeps working: its --tiny mode runs every path on the CPU and prints the table. The
compiled row is fp32's only (``--compile-dtypes fp32``): the same code path compiles every dtype, and an inductor
compile of fp16 or bf16 kernels for the CPU (about 25 CPU seconds each) says nothing about a GPU."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from playbook.core.config import REPO_ROOT

TERMS_TITLE = "VRAM terms, measured vs playbook analyze's estimate (GB)"


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu_with_tiny_sizes(tmp_path):
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--steps", "1",
                          "--keep", str(tmp_path / "model"), "--terms", "--compile-dtypes", "fp32"],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    terms_at = lines.index(TERMS_TITLE)
    rows = [line.split() for line in lines[:terms_at] if line.split() and line.split()[0] in ("fp32", "fp16", "bf16")]
    assert [(r[0], r[1]) for r in rows] == [("fp32", "eager"), ("fp32", "blocks"), ("fp16", "eager"), ("bf16", "eager")]
    for dtype, mode, load_s, start_s, it_per_s, _, first_s, job_s, peak, estimate in rows:
        assert min(float(load_s), float(start_s), float(it_per_s), float(first_s), float(job_s)) > 0, (dtype, mode)
        assert float(start_s) >= float(load_s)  # the start is the load plus the options and the warm-up
        assert peak == "n/a" and float(estimate) > 0  # no VRAM on the CPU; the estimate still computes
    assert rows[0][5] == "1.00"  # it/s relative to fp32 eager
    warm = [line for line in lines if line.startswith("warm-up")]
    assert len(warm) == 2 and "warm-up took" in warm[1] and "ratio" in warm[0]
    assert any(line.startswith("OOM path") and "not run on the CPU" in line for line in lines)
    assert (tmp_path / "model" / "model_index.json").is_file()  # --keep leaves the model folder
    # --terms: each VRAM term per size and batch; nothing measured on the CPU, every estimate computed
    terms = [line.split() for line in lines[terms_at:] if line.startswith("fp32 ")]
    assert [(row[1], row[2]) for row in terms] == [("64", "1"), ("64", "2")]
    assert all(row[3] == row[5] == row[7] == "n/a" and float(row[8]) > 0 for row in terms)
    assert float(terms[1][8]) >= float(terms[0][8])  # a larger batch never needs less
    assert "implied factors: not measured on the CPU" in lines


def test_a_compiled_dtype_without_its_eager_row_is_refused_naming_both_options():
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--tiny", "--dtypes", "fp16",
                          "--compile-dtypes", "fp32,fp16"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--compile-dtypes fp32 is not in --dtypes (fp16)" in out.stderr


def test_gpu_check_refuses_in_about_a_second_without_a_gpu():
    if gpu_check_module().has_nvidia_driver():
        pytest.skip("this machine has an NVIDIA driver: the check would run")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "needs a CUDA GPU" in out.stderr and "--tiny" in out.stderr
    assert time.perf_counter() - start < 10  # no torch import, no 4 GB model built on the CPU


@pytest.mark.gpu  # skipped without CUDA by tests/conftest.py
def test_gpu_check_on_a_gpu_measures_vram_within_the_estimate(tmp_path):
    """The SD-1.5-shaped check itself, fp16 only and few steps (about a minute on an H100)."""
    out = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "gpu_check.py"), "--steps", "3",
                          "--dtypes", "fp16", "--compile", "none"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    [row] = [line.split() for line in out.stdout.splitlines() if line.startswith("fp16 ")]
    peak, estimate = float(row[8]), float(row[9])
    assert 0 < peak <= estimate
    assert any(line.startswith("OOM path") and "clear error" in line for line in out.stdout.splitlines())


def gpu_check_module():
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import gpu_check

    return gpu_check


def test_rule_of_thumb_vram_estimate_scales_with_dtype_and_pixels(tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import gpu_check

    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "w.safetensors").write_bytes(b"\0" * 4_000_000)  # 4 MB of fp32 weights
    fp32 = gpu_check.rule_of_thumb_vram_gb(tmp_path, "fp32", 512, 512)
    fp16 = gpu_check.rule_of_thumb_vram_gb(tmp_path, "fp16", 512, 512)
    assert fp32 == pytest.approx(0.004 + 1.0) and fp16 == pytest.approx(0.002 + 0.5)
    assert gpu_check.rule_of_thumb_vram_gb(tmp_path, "fp16", 1024, 1024, num_images=2) == pytest.approx(0.002 + 4.0)


def test_analyzes_vram_constants_stay_above_what_an_h200_measured():
    """benchmarks/baselines/gpu_check_h200.txt holds each term measured on a GPU beside the estimate made with
    the constants of the day (64 and 16); scaled to today's constants, every estimate still covers its
    measurement, and the peak estimate is not more than twice the measured peak (the headroom stays useful)."""
    from playbook.weights import analyze

    lines = (REPO_ROOT / "benchmarks" / "baselines" / "gpu_check_h200.txt").read_text().splitlines()
    rows = [line.split() for line in lines[lines.index(TERMS_TITLE):] if line.startswith(("fp16 ", "fp32 "))]
    assert len(rows) == 12
    context = float(next(line for line in lines if line.startswith("implied factors")).split("CUDA context ")[1]
                    .split()[0])
    assert context <= analyze.CUDA_CONTEXT_GB
    for dtype, side, batch, unet, unet_then, vae, vae_then, peak, _ in rows:
        unet_now = float(unet_then) * analyze.UNET_ACTIVATION_FACTOR / 64
        vae_now = float(vae_then) * analyze.VAE_ACTIVATION_FACTOR / 16
        assert unet_now >= float(unet) and vae_now >= float(vae), (dtype, side, batch)
        weights = float(peak) - max(float(unet), float(vae)) - context
        assert weights + max(unet_now, vae_now) + analyze.CUDA_CONTEXT_GB <= 2 * float(peak)
