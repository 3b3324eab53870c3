"""Speed and the production image, side by side in one run (issue 12; a script that prints, not a test).

1. Cold start against its floor, for the demo worker as a process and as a container of the local image:
   * floor: a fresh Python that imports torch and reads the weights' bytes (what no worker can avoid);
   * spawn-to-ready: the local platform's cold start (worker spawn to its first job take), which with
     the boot-time warm-up includes one tiny generation;
   * first job vs a warm job: the platform's executionTime of the worker's first job and of the next.
   Targets: spawn-to-ready <= 2 x floor, first job <= 1.1 x a warm job.
2. Throughput of one and two workers with a 0.5 s handler, SDK default vs WORKER_PREFETCH (target for one
   worker: >= 0.9 jobs per 0.5 s, i.e. 1.8 jobs/s), and whether an idle worker gets a job before a
   prefetching one (dispatch order on the local platform).
3. Image size by layer: the local (CPU) image, and the cloud (CUDA) image when it has been built.

    python benchmarks/bench_speed.py [--repeat 3] [--jobs 12] [--no-container] [--no-throughput]
The other benchmarks (bench_worker.py, bench_local_platform.py, bench_build.py, gpu_check.py) go deeper.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import playbook.local as local  # noqa: E402
from playbook.api.jobs import JobClient  # noqa: E402
from playbook.local import EndpointConfig  # noqa: E402

SMALL = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2}
FLOOR_CODE = ("import sys, pathlib, torch\n"
              "n = sum(len(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).rglob('*.safetensors'))\n")


def floor_s(model: Path, python: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([*python, "-c", FLOOR_CODE, str(model)], check=True, capture_output=True)
    return time.perf_counter() - start


THREADS = {"OMP_NUM_THREADS": "1"}  # --threads; see main()


def cold_start(platform, volume: Path, image: str | None, warm_up: bool = True) -> tuple[float, float, float]:
    """(spawn-to-ready s, first job executionTime s, warm job executionTime s) of one fresh worker."""
    env = {"WORKER_WARMUP": "1" if warm_up else "0", **THREADS}
    cfg = platform.create_endpoint(EndpointConfig(name="cold", volume_dir=volume, image=image, workers_max=1,
                                                  idle_timeout_s=30, env=env))
    jobs = JobClient(platform.target, cfg.id)
    try:
        first = jobs.run_sync({**SMALL, "seed": 1}, timeout_s=300)
        again = jobs.run_sync({**SMALL, "seed": 2}, timeout_s=300)
        assert first.ok and again.ok, (first.error, again.error)
        (worker,) = platform.list_workers(cfg.id)
        return worker.cold_start_s, first.execution_ms / 1000, again.execution_ms / 1000
    finally:
        platform.delete_endpoint(cfg.id)


def cold_start_table(platform, repeat: int, image: str | None) -> list[tuple[str, str]]:
    from playbook.weights.demo_model import make_demo_model

    volume = Path(tempfile.mkdtemp(prefix="bench-speed-volume-"))
    model = make_demo_model(volume / "models" / "tiny-sd")
    rows = []
    floors = [floor_s(model, [sys.executable]) for _ in range(repeat)]
    runs = {"process": [cold_start(platform, volume, None) for _ in range(repeat)]}
    runs["process, WORKER_WARMUP=0"] = [cold_start(platform, volume, None, warm_up=False) for _ in range(repeat)]
    if image:
        from playbook.image import dockerhost

        container_floors = []  # docker run included, as in the container worker's spawn-to-ready
        for _ in range(repeat):
            start = time.perf_counter()
            dockerhost.run_and_read(image, ["python3", "-c", FLOOR_CODE, "/m"],
                                    volumes={str(model): {"bind": "/m", "mode": "ro"}})
            container_floors.append(time.perf_counter() - start)
        runs["container"] = [cold_start(platform, volume, image) for _ in range(repeat)]
    med = statistics.median
    rows.append(("floor: python -c 'import torch' + read weights (process)", f"{med(floors):6.2f} s"))
    if image:
        rows.append(("floor: same in a container of the image (docker run)", f"{med(container_floors):6.2f} s"))
    for name, samples in runs.items():
        floor = med(container_floors) if name == "container" else med(floors)
        ready, first, warm = (med(s[i] for s in samples) for i in range(3))
        rows.append((f"{name}: spawn to ready (first job take)",
                     f"{ready:6.2f} s  = {ready / floor:4.2f} x floor (target <= 2)"))
        rows.append((f"{name}: first job / warm job executionTime",
                     f"{first:6.3f} s / {warm:6.3f} s = {first / warm:4.2f} (target <= 1.1)"))
    return rows


def throughput_rows(platform, jobs_n: int) -> list[tuple[str, str]]:
    from bench_local_platform import throughput

    rows = []
    for workers in (1, 2):
        for prefetch in (0, 1, 2):
            rate, gap = throughput(platform, "sleep_handler", workers, prefetch, jobs_n, {"sleep_s": 0.5})
            rows.append((f"0.5 s handler, {workers} worker(s), WORKER_PREFETCH={prefetch}",
                         f"{rate:5.2f} jobs/s = {rate * 0.5:4.2f} per 0.5 s (median gap {gap * 1000:5.0f} ms)"))
    return rows


def image_rows(local_image: str | None) -> list[tuple[str, str]]:
    """Size by layer of the local image built in this run and of the cloud image last built from this build
    folder (the daemon may hold other checkouts' images under the same names)."""
    from playbook.image import build

    rows = []
    cloud_ref = build.last_built(build.cloud_settings().repository)
    for label, ref in (("local (CPU)", local_image), ("cloud (CUDA)", cloud_ref)):
        if not ref:
            rows.append((f"image {label}", "not built in this checkout (playbook build"
                         + (" --cloud)" if "CUDA" in label else ")")))
            continue
        report = build.size_report(ref, budget_gb=1000)
        base = report.layers[0].size_mb if report.layers else 0
        above = sum(layer.size_mb for layer in report.layers[1:])
        rows.append((f"image {label} {ref}", f"{report.total_gb:5.2f} GB, {above / 1000:5.2f} GB above the "
                     f"{base:,.0f} MB base" + (" (target <= 1 GB)" if "CPU" in label else "")))
        for layer in report.layers[1:]:
            if layer.size_mb >= 1:
                rows.append((f"  layer {layer.created_by[:70]}", f"{layer.size_mb:9.1f} MB"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh workers per cold-start figure (median)")
    parser.add_argument("--jobs", type=int, default=12, help="jobs per throughput figure")
    parser.add_argument("--no-container", action="store_true", help="skip the container worker")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--threads", default="1",
                        help="OMP_NUM_THREADS of the demo workers (default 1: on a shared 2-core machine torch's "
                             "spinning thread pool makes a tiny generation 20x slower; 'auto' leaves torch's default)")
    args = parser.parse_args()
    if args.threads == "auto":
        THREADS.clear()
    else:
        THREADS["OMP_NUM_THREADS"] = args.threads
    image = None
    if not args.no_container:
        from playbook.image import build, dockerhost

        if dockerhost.daemon_status().available and dockerhost.image_exists(dockerhost.local_base_image()):
            image = build.build_image(build.local_settings(), progress=False).reference
    rows: list[tuple[str, str]] = []
    with local.start(record=False, log_dir=Path(tempfile.mkdtemp(prefix="bench-speed-"))) as platform:
        rows += cold_start_table(platform, args.repeat, image)
        if not args.no_throughput:
            rows += throughput_rows(platform, args.jobs)
    rows += image_rows(image)
    width = max(len(name) for name, _ in rows)
    print(f"\nspeed and the production image (median of {args.repeat} where repeated)")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
