"""The worker's speed options side by side: it/s, first-job time and cold start, one fresh process each.

Each option (imagegen/speed.py) runs in its own worker process, started the way RunPod starts one (the
settings in the environment, ``Worker.start``: load, apply the options, the warm-up generation), then one
first job and a few warm jobs of the same size. Cold start is the process's spawn to ready (imports, load,
warm-up: torch.compile compiles here); a compiled option runs twice over one compile cache folder (cold
cache, then warm cache: what a cold start costs when WORKER_COMPILE_CACHE sits in the image or on the volume).

    python benchmarks/bench_speed_options.py                       # the tiny demo model at 64x64, on the CPU
    python benchmarks/bench_speed_options.py --size small --side 128 --steps 8
    python benchmarks/bench_speed_options.py --model /path/to/folder --side 512 --steps 25   # on a GPU

Figures depend on the machine and its load: a benchmark, never a test (tests/test_speed_options.py checks
each option works).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# name -> the worker settings it sets (on top of WORKER_DEVICE / WORKER_DTYPE)
OPTIONS = {
    "eager": {},
    "channels_last": {"WORKER_CHANNELS_LAST": "1"},
    "fused_qkv": {"WORKER_FUSE_QKV": "1"},
    "sdpa:math": {"WORKER_SDPA_BACKEND": "math"},
    "sdpa:flash": {"WORKER_SDPA_BACKEND": "flash"},
    "compile:blocks": {"WORKER_COMPILE": "blocks"},
    "compile:unet": {"WORKER_COMPILE": "unet"},
}
GPU_OPTIONS = {
    "sdpa:efficient": {"WORKER_SDPA_BACKEND": "efficient"},
    "sdpa:cudnn": {"WORKER_SDPA_BACKEND": "cudnn"},
    "compile:blocks+graphs": {"WORKER_COMPILE": "blocks", "WORKER_CUDA_GRAPHS": "1"},
    "compile:unet+graphs": {"WORKER_COMPILE": "unet", "WORKER_CUDA_GRAPHS": "1"},
    "compile:unet+cl+qkv": {"WORKER_COMPILE": "unet", "WORKER_CHANNELS_LAST": "1", "WORKER_FUSE_QKV": "1"},
}


def child(side: int, steps: int, jobs: int) -> None:
    """In the option's process: start a worker from the environment, time a first job and warm jobs."""
    spawned = float(os.environ["BENCH_SPAWNED"])
    sys.path.insert(0, str(ROOT / "worker"))
    from imagegen.service import Worker

    worker = Worker.start()
    ready = time.time()
    if worker.loaded is None:
        print(json.dumps({"error": worker.problem}))
        return
    payload = {"prompt": "a lighthouse at dusk", "width": side, "height": side, "num_inference_steps": steps,
               "seed": 1}
    start = time.perf_counter()
    first = worker.handle({"id": "first", "input": payload})
    first_s = time.perf_counter() - start
    warm = [worker.handle({"id": f"warm-{i}", "input": payload})["inference_s"] for i in range(jobs)]
    print(json.dumps({"cold_start_s": ready - spawned, "warmup_s": worker.warmup_s, "first_job_s": first_s,
                      "first_inference_s": first["inference_s"], "it_per_s": steps / min(warm),
                      "warm_job_s": min(warm), "speed": worker.loaded.speed, "device": worker.loaded.device,
                      "dtype": worker.loaded.dtype}))


def run_option(env: dict, model: Path, args) -> dict:
    full = {**os.environ, "MODEL_PATH": str(model), "WORKER_DEVICE": args.device, "WORKER_DTYPE": args.dtype,
            "BENCH_SPAWNED": repr(time.time()), **env}
    out = subprocess.run([sys.executable, __file__, "--child", "--side", str(args.side), "--steps", str(args.steps),
                          "--jobs", str(args.jobs)], env=full, capture_output=True, text=True, timeout=3600)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1][:120]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help="a model folder (default: the demo model of --size)")
    parser.add_argument("--size", default="tiny", choices=("tiny", "small", "medium"))
    parser.add_argument("--side", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=3, help="warm jobs (the fastest gives it/s)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--only", help="comma-separated option names (default: every one that applies)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.side, args.steps, args.jobs)
        return 0
    import torch

    from playbook.weights.demo_model import make_demo_model

    cuda = torch.cuda.is_available() and args.device != "cpu"
    options = {**OPTIONS, **(GPU_OPTIONS if cuda else {})}
    if args.only:
        options = {k: v for k, v in options.items() if k in args.only.split(",")}
    where = "CUDA " + torch.cuda.get_device_name() if cuda else "CPU"
    print(f"\nspeed options on {where}, torch {torch.__version__}; {args.model or args.size} at "
          f"{args.side}x{args.side}, {args.steps} steps; one fresh worker process per row", flush=True)
    print(f"{'option':<30} {'it/s':>8} {'vs eager':>8} {'first job s':>11} {'warm job s':>10} "
          f"{'cold start s':>12} {'warm-up s':>9}  speed in effect", flush=True)
    eager = None
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or make_demo_model(Path(tmp) / f"demo-{args.size}", args.size)
        for name, env in options.items():
            runs = [(name, env)]
            if "WORKER_COMPILE" in env:
                cache = {**env, "WORKER_COMPILE_CACHE": str(Path(tmp) / f"cache-{name}")}
                runs = [(f"{name} (cold cache)", cache), (f"{name} (warm cache)", cache)]
            for label, settings in runs:
                row = run_option(settings, model, args)
                eager = row.get("it_per_s") if name == "eager" else eager
                print_row(label, row, eager)
    return 0


def print_row(name: str, r: dict, eager: float | None) -> None:
    """One option's figures, printed as soon as they are measured (a long run keeps what it has)."""
    if "error" in r:
        print(f"{name:<30} failed: {r['error']}", flush=True)
        return
    ratio = f"{r['it_per_s'] / eager:8.2f}" if eager else f"{'':>8}"
    print(f"{name:<30} {r['it_per_s']:8.2f} {ratio} {r['first_job_s']:11.2f} {r['warm_job_s']:10.2f} "
          f"{r['cold_start_s']:12.2f} {r['warmup_s'] or 0:9.2f}  {r['device']} {r['dtype']} "
          f"{','.join(r['speed'])}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
