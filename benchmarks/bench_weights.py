"""Figures for the weights phase: analysis from safetensors headers against loading the model, push
throughput to the local platform's S3 API (single PutObject per file against multipart with parallel
parts), and resuming an interrupted push.

Why a script and not a test: timings depend on the machine; tests assert behaviour, this prints numbers.
Run: python benchmarks/bench_weights.py [--size medium] [--part-mb 16] [--parallel 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", help="demo model size (tiny, small, medium)")
    parser.add_argument("--part-mb", type=float, default=16, help="multipart part size in MB")
    parser.add_argument("--parallel", type=int, default=4, help="parts uploaded at once")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PLAYBOOK_BUILD_DIR"] = str(Path(tmp) / "build")
        import requests

        import playbook.local as local
        from playbook.storage import volume
        from playbook.weights import analyze, demo_model

        model = demo_model.make_demo_model(Path(tmp) / "model", size=args.size)
        total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
        files = sum(1 for p in model.rglob("*") if p.is_file())
        print(f"model: demo {args.size}, {total / 1e6:.1f} MB in {files} files")

        start = time.perf_counter()
        result = analyze.analyze(model)
        headers_s = time.perf_counter() - start
        import torch
        from diffusers import StableDiffusionPipeline

        start = time.perf_counter()
        StableDiffusionPipeline.from_pretrained(model, local_files_only=True, dtype=torch.float32)
        load_s = time.perf_counter() - start
        print(f"analysis from headers: {headers_s * 1000:8.1f} ms  ({result.params:,} parameters)")
        print(f"loading the pipeline:  {load_s * 1000:8.1f} ms  ({load_s / headers_s:.0f}x the header analysis)")

        part = int(args.part_mb * volume.MB)
        single = volume.Transfer(multipart_threshold_bytes=volume.PUT_LIMIT_BYTES)
        multi = volume.Transfer(part_size_bytes=part, multipart_threshold_bytes=part, parallel_parts=args.parallel)
        with local.start(record=False) as plat:
            def new_loc():
                r = requests.post(f"{plat.target.control_api_url}/network-volumes", timeout=10,
                                  json={"name": "bench", "size": 10, "dataCenter": "EU-RO-1"},
                                  headers={"Authorization": f"Bearer {plat.api_key}"})
                return volume.location(plat.target, r.json()["id"], "EU-RO-1")

            for label, transfer in (("single PutObject per file", single),
                                    (f"multipart, {args.part_mb:g} MB parts x {args.parallel} parallel", multi)):
                report = volume.push(model, new_loc(), "models/bench", transfer=transfer, progress=False)
                print(f"push, {label:<38} {report.mb_per_s:8.1f} MB/s  ({report.seconds:.2f} s, "
                      f"{report.multipart_files} multipart files)")

            loc = new_loc()
            parts = {"n": 0}
            real = volume.VolumeS3.call

            def stop_half_way(self, op, what="", **kwargs):
                if op == "upload_part":
                    parts["n"] += 1
                    if parts["n"] > max(1, total // part // 2):
                        raise KeyboardInterrupt
                return real(self, op, what, **kwargs)

            volume.VolumeS3.call = stop_half_way
            start = time.perf_counter()
            with contextlib.suppress(KeyboardInterrupt):
                volume.push(model, loc, "models/bench", transfer=multi, progress=False)
            interrupted_s = time.perf_counter() - start
            volume.VolumeS3.call = real
            resumed = volume.push(model, loc, "models/bench", transfer=multi, progress=False)
            print(f"interrupted push: stopped after {interrupted_s:.2f} s; resume uploaded "
                  f"{resumed.uploaded_bytes / 1e6:.1f} of {total / 1e6:.1f} MB ({resumed.reused_parts} parts reused) "
                  f"in {resumed.seconds:.2f} s")
            again = volume.push(model, loc, "models/bench", transfer=multi, progress=False)
            print(f"second push of a complete model: {again.uploaded_bytes} bytes uploaded in {again.seconds:.2f} s "
                  "(hashing the local files)")
            print(f"verify (sizes by HEAD): {volume.verify(loc, 'models/bench').ok}")


if __name__ == "__main__":
    main()
