"""Build-phase figures in one run: image build time cold (no layer cache) and warm (layer cache), the
image size by layer, and a container worker's cold start next to a process worker's.

Run (needs the services: `sudo scripts/services.sh`):
    python benchmarks/bench_build.py                 # cold + warm build, sizes, 2 cold starts each
    python benchmarks/bench_build.py --skip-cold     # warm build only (the cold one takes minutes)
    python benchmarks/bench_build.py --repeats 3

Cold start here = time from submitting one job to an endpoint at zero workers until it is COMPLETED
(worker start, imports, tiny model load, 2 denoising steps at 64x64), on the local platform, deployed
through deploy/demo.toml; "docker" runs the built image as a container, "process" runs worker/handler.py
as a Python process. delayTime (time in queue) is reported separately. Figures go to stdout and to
$PLAYBOOK_BUILD_DIR/bench/bench_build.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playbook.core.config import build_dir  # noqa: E402
from playbook.image import (
    build,  # noqa: E402
    dockerhost,  # noqa: E402
    registry,  # noqa: E402
)
from playbook.journey import image_trial  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true", help="skip the build without layer cache")
    parser.add_argument("--repeats", type=int, default=2, help="cold starts per runner")
    args = parser.parse_args()
    status = dockerhost.daemon_status()
    if not status.available:
        print(f"no Docker daemon: {status.reason}")
        return 1
    figures: dict = {"docker": status.version}
    settings = build.local_settings()
    if not args.skip_cold:
        cold = build.build_image(settings, nocache=True, progress=False)
        figures["build_cold_s"] = cold.seconds
        print(f"build, cold (no layer cache): {cold.seconds:7.1f} s  "
              f"({cold.steps} steps, context {cold.context_mb} MB)")
    warm = build.build_image(settings, progress=False)
    figures["build_warm_s"] = warm.seconds
    print(f"build, warm (layer cache):    {warm.seconds:7.1f} s  ({warm.cached_steps}/{warm.steps} steps cached)")

    sizes = build.size_report(warm.reference)
    figures["image_gb"] = sizes.total_gb
    figures["layers_mb"] = [[layer.created_by[:70], layer.size_mb] for layer in sizes.layers if layer.size_mb >= 0.01]
    print(f"\nimage {warm.reference}: {sizes.total_gb:.2f} GB (budget {sizes.budget_gb:g} GB)")
    for label, mb in figures["layers_mb"]:
        print(f"  {mb:9.1f} MB  {label}")

    start = time.perf_counter()
    pushed = registry.push(warm.reference, progress=False)
    figures["push_s"] = round(time.perf_counter() - start, 1)
    print(f"\npush to {pushed.repository}: {figures['push_s']} s  ({pushed.digest[:19]})")

    print("\ncold start of one job on an endpoint at zero workers (submit to COMPLETED):")
    for runner, image in (("docker", pushed.reference), ("process", "local/not-built-here:bench")):
        trials = [image_trial.deploy_and_run(image) for _ in range(args.repeats)]
        assert all(t.runner == runner and t.status == "COMPLETED" for t in trials), trials
        firsts = [t.first_job_s for t in trials]
        figures[f"cold_start_{runner}_s"] = firsts
        figures[f"delay_{runner}_s"] = [t.delay_s for t in trials]
        figures[f"execution_{runner}_s"] = [t.execution_s for t in trials]
        print(f"  {runner:8} first job {statistics.median(firsts):5.1f} s median of {firsts}; "
              f"in queue {[t.delay_s for t in trials]} s; executing {[t.execution_s for t in trials]} s; "
              f"left after idle timeout: {trials[-1].workers_left} workers, {trials[-1].containers_left} containers")
    out = build_dir() / "bench" / "bench_build.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
