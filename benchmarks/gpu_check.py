"""The GPU check, prepared: one command, one printed table, under 5 minutes on an H100/H200.

What it measures, with the worker's own code (imagegen.service.Worker, the code a RunPod worker runs):
* a full-size random-weight pipeline shaped like Stable Diffusion 1.5 (UNet 860M, VAE, CLIP ViT-L text
  encoder; about 4.3 GB of fp32 safetensors), made offline on the device and saved like a model folder;
* one table: it/s at 512x512 for fp32, fp16 and bf16, eager and compiled (WORKER_COMPILE=blocks, or what
  --compile says), with the worker's start (load, options, warm-up: where torch.compile compiles), the first
  job after it and a warm job;
* peak VRAM (``torch.cuda.max_memory_allocated``) against the estimate (``estimate_vram_gb``: ``playbook
  analyze``'s inference peak where playbook/weights/analyze.py exists, else weights plus a rule of thumb);
* the OOM path: with the allocator capped just above a normal job's peak, a request too large answers
  the clear "CUDA out of memory ... keeps serving" error and the next job succeeds;
* the warm-up effect: first job / warm job with and without the boot-time warm-up generation;
* the VRAM terms, one by one (``--terms``): the UNet's activations (a latent-only generation), the VAE
  decode's and the CUDA context, measured at several sizes and batches against ``playbook analyze``'s
  estimate of each term, with the factors the measurements imply for its constants.

    python benchmarks/gpu_check.py            # on a GPU machine (the worker image or the project venv)
    python benchmarks/gpu_check.py --tiny     # on the CPU: the demo model at 64x64, every path, a minute or two

Without a GPU it refuses in about a second (it would build a 4 GB model on the CPU for minutes): --tiny is the
CPU run.
    python benchmarks/gpu_check.py --terms    # also the VRAM terms at 512..1024 and batch 1..4 (a minute more)

It is a script, not a test (figures depend on the machine); tests run it with --tiny so it keeps working.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playbook.core.config import worker_on_path  # noqa: E402

DTYPES = ("fp32", "fp16", "bf16")
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


# ------------------------------------------------------------------ the model


def sd15_pipeline(device: str):
    """A Stable Diffusion 1.5-shaped pipeline with random weights, built on ``device`` (fast on a GPU)."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from playbook.weights.demo_model import write_tokenizer_files

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = CLIPTokenizer.from_pretrained(write_tokenizer_files(Path(tmp)), model_max_length=77)
    torch.manual_seed(0)
    with torch.device(device):
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512),
            layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
            num_attention_heads=12, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, projection_dim=768))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def make_model(folder: Path, tiny: bool, device: str) -> float:
    """Write the pipeline to ``folder``; return its size in GB."""
    from playbook.weights.demo_model import build_pipeline, make_world_readable

    pipe = build_pipeline("tiny") if tiny else sd15_pipeline(device)
    pipe.save_pretrained(folder, safe_serialization=True)
    make_world_readable(folder)
    del pipe
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e9


def estimate_vram_gb(model_path: Path, dtype: str, width: int, height: int, num_images: int = 1) -> float:
    """``playbook analyze``'s inference peak when that module is there (issue 9), else the stand-in below."""
    try:
        from playbook.weights.analyze import analyze
    except ImportError:
        return rule_of_thumb_vram_gb(model_path, dtype, width, height, num_images)
    return analyze(model_path, dtype=dtype, width=width, height=height, batch=num_images).vram_gb


def rule_of_thumb_vram_gb(model_path: Path, dtype: str, width: int, height: int, num_images: int = 1) -> float:
    """Weights at ``dtype`` (the folder holds fp32) plus activations by a rule of thumb: about 0.5 GB per
    image at 512x512 in 16-bit for the UNet with classifier-free guidance and the VAE decode, scaled by
    pixels and dtype size."""
    weights_fp32 = sum(p.stat().st_size for p in Path(model_path).rglob("*.safetensors")) / 1e9
    scale = DTYPE_BYTES[dtype] / 4
    activations = 0.5 * num_images * (width * height) / (512 * 512) * (DTYPE_BYTES[dtype] / 2)
    return weights_fp32 * scale + activations


# ------------------------------------------------------------------ measurements


@dataclass
class DtypeRow:
    dtype: str
    mode: str  # eager, or the WORKER_COMPILE setting (with +graphs for CUDA graphs)
    load_s: float
    start_s: float  # Worker.start: load, speed options, warm-up generation (torch.compile compiles here)
    it_per_s: float
    first_job_s: float
    job_s: float  # a warm job
    peak_vram_gb: float | None
    estimate_gb: float


def job(side: int, steps: int, seed: int = 1, **more) -> dict:
    return {"id": f"gpu-check-{time.time_ns()}", "input": {"prompt": "a lighthouse at dusk", "width": side,
                                                          "height": side, "num_inference_steps": steps,
                                                          "seed": seed, **more}}


def run_ok(worker, payload: dict) -> tuple[dict, float]:
    start = time.perf_counter()
    result = worker.handle(payload)
    seconds = time.perf_counter() - start
    if "error" in result:
        raise RuntimeError(f"job failed: {result['error']}")
    return result, seconds


def speed_options(mode: str, cache: Path | None):
    """The worker's speed options for a table row: eager, or ``blocks``/``unet`` (``+graphs``: CUDA graphs)."""
    from imagegen import speed

    if mode == "eager":
        return speed.Options()
    how, _, graphs = mode.partition("+")
    return speed.Options(compile=how, cuda_graphs=graphs == "graphs", compile_cache=str(cache) if cache else None)


def measure_dtype(model: Path, device: str, dtype: str, side: int, steps: int, mode: str = "eager",
                  cache: Path | None = None) -> DtypeRow:
    import torch
    from imagegen.service import Worker, WorkerSettings

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    worker = Worker.start(WorkerSettings(str(model), device, dtype, warm_up=True, speed=speed_options(mode, cache)))
    start_s = time.perf_counter() - start
    if worker.loaded is None:
        raise RuntimeError(worker.problem)
    first_s = run_ok(worker, job(side, steps, seed=7))[1]
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    result, seconds = run_ok(worker, job(side, steps))
    peak = torch.cuda.max_memory_allocated() / 1e9 if device == "cuda" else None
    row = DtypeRow(dtype, mode, worker.loaded.load_s, start_s, steps / result["inference_s"], first_s, seconds, peak,
                   estimate_vram_gb(model, dtype, side, side))
    release(worker)
    return row


def release(worker) -> None:
    worker.loaded = None
    release_memory()


def warmup_effect(model: Path, device: str, dtype: str, side: int, steps: int) -> dict:
    """First job / warm job without, then with, the boot-time warm-up."""
    from imagegen.service import Worker, WorkerSettings

    out = {}
    for warm in (False, True):
        worker = Worker.start(WorkerSettings(str(model), device, dtype, warm_up=warm))
        first = run_ok(worker, job(side, steps, seed=2))[1]
        again = run_ok(worker, job(side, steps, seed=3))[1]
        out[warm] = (first, again, worker.warmup_s)
        release(worker)
    return out


def oom_path(model: Path, dtype: str, side: int, steps: int) -> str:
    """Cap the allocator just above a normal job's peak; a big request must answer the OOM error and the
    next normal job must succeed."""
    import torch
    from imagegen.service import Worker, WorkerSettings

    worker = Worker.start(WorkerSettings(str(model), "cuda", dtype, warm_up=True))
    torch.cuda.reset_peak_memory_stats()
    run_ok(worker, job(side, steps))
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, torch.cuda.max_memory_allocated() * 1.3 / total))
    try:
        big = worker.handle(job(1024, 2, num_images=8))
        _, after_s = run_ok(worker, job(side, steps))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        release(worker)
    if "error" not in big:
        return "the large request fitted (no OOM): raise num_images or the side"
    clear = "CUDA out of memory" in big["error"] and "keeps serving" in big["error"]
    return (f"{'clear error' if clear else 'UNCLEAR error'} ({big['error'][:70]}...), "
            f"next job ok in {after_s:.2f} s")


@dataclass
class TermsRow:
    """One size and batch: each VRAM term measured (GB, None on the CPU) beside playbook analyze's estimate."""

    dtype: str
    side: int
    batch: int
    unet_gb: float | None
    unet_estimate_gb: float
    vae_gb: float | None
    vae_estimate_gb: float
    peak_gb: float | None  # weights + the larger activation term + the CUDA context, as the card sees it
    peak_estimate_gb: float


def vram_terms(model: Path, device: str, dtype: str, sizes: tuple[int, ...], batches: tuple[int, ...],
               steps: int) -> tuple[list[TermsRow], float | None]:
    """Each term of analyze's VRAM estimate measured alone with the worker's own pipeline (SDPA attention):
    the UNet's activations are the peak of a latent-only generation above the weights, the VAE decode's the
    peak of decoding those latents, and the CUDA context what the card reports in use beyond PyTorch's
    reserved memory. Returns the rows and the measured context (GB)."""
    import torch
    from imagegen import pipeline

    from playbook.weights.analyze import analyze

    cuda = device == "cuda"
    loaded = pipeline.load(str(model), device, dtype)
    pipe = loaded.pipe
    context_gb = None
    if cuda:
        torch.cuda.synchronize()
        free, total = torch.cuda.mem_get_info()
        context_gb = (total - free - torch.cuda.memory_reserved()) / 1e9
        weights = torch.cuda.memory_allocated()

    def peak_above_weights() -> float | None:
        return (torch.cuda.max_memory_allocated() - weights) / 1e9 if cuda else None

    rows = []
    for side in sizes:
        for batch in batches:
            estimate = analyze(model, dtype=dtype, width=side, height=side, batch=batch)
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode():
                latents = pipe(prompt="a lighthouse at dusk", width=side, height=side, num_inference_steps=steps,
                               num_images_per_prompt=batch, output_type="latent").images
                unet = peak_above_weights()
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                pipe.vae.decode(latents / pipe.vae.config.scaling_factor)
                vae = peak_above_weights()
            del latents
            peak = (weights / 1e9 + max(unet, vae) + context_gb) if cuda else None
            rows.append(TermsRow(dtype, side, batch, unet, estimate.unet_activation_estimate_gb, vae,
                                 estimate.vae_decode_estimate_gb, peak, estimate.vram_gb))
    del pipe, loaded
    release_memory()
    return rows, context_gb


def release_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def print_terms(rows: list[TermsRow], context_gb: float | None) -> None:
    from playbook.weights import analyze

    def gb(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    print("\nVRAM terms, measured vs playbook analyze's estimate (GB)")
    print(f"{'dtype':<6} {'side':>5} {'batch':>5} {'UNet act':>9} {'est':>6} {'VAE act':>8} {'est':>6} "
          f"{'peak':>6} {'est':>6}")
    for r in rows:
        print(f"{r.dtype:<6} {r.side:5d} {r.batch:5d} {gb(r.unet_gb):>9} {r.unet_estimate_gb:6.2f} "
              f"{gb(r.vae_gb):>8} {r.vae_estimate_gb:6.2f} {gb(r.peak_gb):>6} {r.peak_estimate_gb:6.2f}")
    measured = [r for r in rows if r.unet_gb is not None]
    if not measured:
        print("implied factors: not measured on the CPU")
        return
    unet = max(analyze.UNET_ACTIVATION_FACTOR * r.unet_gb / r.unet_estimate_gb for r in measured)
    vae = max(analyze.VAE_ACTIVATION_FACTOR * r.vae_gb / r.vae_estimate_gb for r in measured)
    print(f"implied factors (largest over the rows): UNET_ACTIVATION_FACTOR {unet:.1f} (now "
          f"{analyze.UNET_ACTIVATION_FACTOR}), VAE_ACTIVATION_FACTOR {vae:.1f} (now "
          f"{analyze.VAE_ACTIVATION_FACTOR}), CUDA context {context_gb:.2f} GB (now {analyze.CUDA_CONTEXT_GB})")


# ------------------------------------------------------------------ main


def has_nvidia_driver() -> bool:
    """A CUDA GPU is possible here (checked without importing torch, which takes seconds)."""
    return Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi") is not None


def print_rows(rows: list[DtypeRow]) -> None:
    """The table: one row per dtype and mode; fp16 and the compiled rows compared with fp32 eager."""
    print(f"{'dtype':<6} {'mode':<15} {'load s':>7} {'start s':>8} {'it/s':>8} {'x fp32':>7} {'first job s':>11} "
          f"{'job s':>7} {'peak VRAM GB':>13} {'estimate GB':>12}")
    base = next((r.it_per_s for r in rows if r.dtype == "fp32" and r.mode == "eager"), None)
    for r in rows:
        peak = f"{r.peak_vram_gb:13.2f}" if r.peak_vram_gb is not None else f"{'n/a':>13}"
        ratio = f"{r.it_per_s / base:7.2f}" if base else f"{'n/a':>7}"
        print(f"{r.dtype:<6} {r.mode:<15} {r.load_s:7.2f} {r.start_s:8.2f} {r.it_per_s:8.2f} {ratio} "
              f"{r.first_job_s:11.2f} {r.job_s:7.2f} {peak} {r.estimate_gb:12.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="the demo model at 64x64 on the CPU (for tests)")
    parser.add_argument("--steps", type=int, help="denoising steps per job (default 25, --tiny 2)")
    parser.add_argument("--keep", type=Path, help="write the model here and keep it (default: a temp folder)")
    parser.add_argument("--compile", default="blocks",
                        help="the compiled rows' WORKER_COMPILE: blocks or unet, +graphs for CUDA graphs "
                             "(e.g. unet+graphs); 'none' leaves the compiled rows out")
    parser.add_argument("--dtypes", default=",".join(DTYPES), help="comma-separated (default: all three)")
    parser.add_argument("--compile-dtypes",
                        help="the dtypes that also get a compiled row, comma-separated (default: every --dtypes). "
                             "Each compile takes tens of seconds; on the CPU the fp16 and bf16 ones say nothing "
                             "about a GPU")
    parser.add_argument("--terms", action="store_true",
                        help="also measure each VRAM term at several sizes and batches (fp16, and fp32 on a GPU)")
    args = parser.parse_args(argv)
    dtypes = tuple(d for d in args.dtypes.split(",") if d)
    compiled = set(dtypes if args.compile_dtypes is None else (d for d in args.compile_dtypes.split(",") if d))
    if compiled - set(dtypes):
        parser.error(f"--compile-dtypes {','.join(sorted(compiled - set(dtypes)))} is not in --dtypes "
                     f"({','.join(dtypes)}): a compiled row is compared with its dtype's eager row")
    if not args.tiny and not has_nvidia_driver():
        print("gpu_check: no NVIDIA driver here (no /dev/nvidiactl, no nvidia-smi): it needs a CUDA GPU. "
              "Run it with --tiny for the CPU version (the demo model at 64x64).", file=sys.stderr)
        return 2
    worker_on_path()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA GPU (a CPU build, or a driver too old for CUDA "
              f"{torch.version.cuda}). Run it with --tiny for the CPU version.", file=sys.stderr)
        return 2
    device = "cpu" if args.tiny else "cuda"
    side, steps = (64, args.steps or 2) if args.tiny else (512, args.steps or 25)
    modes = ("eager",) if args.compile == "none" else ("eager", args.compile)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    started = time.perf_counter()
    try:
        make_s = time.perf_counter()
        size_gb = make_model(folder, args.tiny, device)
        make_s = time.perf_counter() - make_s
        rows = []
        for d in dtypes:
            for mode in (m for m in modes if m == "eager" or d in compiled):
                rows.append(measure_dtype(folder, device, d, side, steps, mode,
                                          folder.parent / f"{folder.name}-compile-cache"))
                print(f"measured {rows[-1]}", file=sys.stderr, flush=True)  # kept if the run is cut short
        default_dtype = "fp16" if device == "cuda" else "fp32"
        warm = warmup_effect(folder, device, default_dtype, side, steps)
        oom = oom_path(folder, default_dtype, side, steps) if device == "cuda" else "not run on the CPU"
        terms, context_gb = [], None
        if args.terms:
            sizes, batches = ((64,), (1, 2)) if args.tiny else ((512, 768, 1024), (1, 4))
            for dtype in ("fp16", "fp32") if device == "cuda" else ("fp32",):
                found, context_gb = vram_terms(folder, device, dtype, sizes, batches, min(steps, 2))
                terms += found
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(folder.parent / f"{folder.name}-compile-cache", ignore_errors=True)
    gpu = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"\nGPU check: {gpu}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
          f"{'demo model (tiny)' if args.tiny else 'SD-1.5-shaped random weights'} {size_gb:.2f} GB fp32, "
          f"made in {make_s:.1f} s; {side}x{side}, {steps} steps, SDPA attention")
    print_rows(rows)
    for flag, (first, again, warmup_s) in warm.items():
        label = f"warm-up {'on ' if flag else 'off'} ({default_dtype})"
        extra = f", warm-up took {warmup_s:.2f} s at boot" if warmup_s else ""
        print(f"{label:<22} first job {first:6.2f} s, warm job {again:6.2f} s, ratio {first / again:5.2f}{extra}")
    print(f"{'OOM path':<22} {oom}")
    if args.terms:
        print_terms(terms, context_gb)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
