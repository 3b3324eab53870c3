"""Figures for the worker and the demo model: how long making the model takes, how long a worker takes
from process start to ready, and how long one generate call takes.

Why a script and not a test: timings depend on the machine; tests assert behaviour, this prints numbers.
Run: python benchmarks/bench_worker.py [--sizes tiny medium] [--repeat 3]
Each figure is the median of --repeat runs in fresh processes where the point is a cold start.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playbook.handler.preview import HANDLER, WORKER_DIR  # noqa: E402

SMALL_JOB = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}
DEFAULT_JOB = {"prompt": "a lighthouse", "seed": 1}  # the schema's defaults: 512x512, 25 steps


def timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, **kw)
    return time.perf_counter() - start


def make_model(size: str, out: Path) -> float:
    """Wall time of `playbook demo-model` in a fresh process (imports included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return timed([sys.executable, "-m", "playbook", "demo-model", "--size", size, "--out", str(out), "--force"],
                 env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(model: Path):
    """Start `handler.py --rp_serve_api`; return (process, url, seconds from spawn to first answer)."""
    port = free_port()
    env = {**os.environ, "MODEL_PATH": str(model)}
    env.pop("RUNPOD_WEBHOOK_GET_JOB", None)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(HANDLER), "--rp_serve_api", "--rp_api_host", "127.0.0.1",
                             "--rp_api_port", str(port)], cwd=WORKER_DIR, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError("worker exited before it was ready")
        try:
            requests.get(f"{url}/docs", timeout=1)
            return proc, url, time.perf_counter() - start
        except requests.ConnectionError:
            time.sleep(0.05)


def generate(url: str, job: dict) -> tuple[float, float]:
    """(round trip over /runsync, the worker's own inference_s)."""
    start = time.perf_counter()
    body = requests.post(f"{url}/runsync", json={"input": job}, timeout=600).json()
    assert body["status"] == "COMPLETED", body
    return time.perf_counter() - start, body["output"]["inference_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "medium"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--default-job", action="store_true", help="also time a 512x512, 25-step request")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            model = Path(tmp) / f"demo-{size}"
            makes = [make_model(size, model) for _ in range(args.repeat)]
            size_mb = sum(p.stat().st_size for p in model.rglob("*") if p.is_file()) / 1e6
            rows.append((f"make demo model {size} ({size_mb:.1f} MB), fresh process", statistics.median(makes)))
            starts, calls, infers, big = [], [], [], []
            for _ in range(args.repeat):
                proc, url, ready_s = serve(model)
                try:
                    starts.append(ready_s)
                    generate(url, SMALL_JOB)  # first call warms up
                    rt, inf = generate(url, SMALL_JOB)
                    calls.append(rt)
                    infers.append(inf)
                    if args.default_job:
                        big.append(generate(url, DEFAULT_JOB)[0])
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
            rows.append((f"worker start to ready ({size}): spawn -> --rp_serve_api answers", statistics.median(starts)))
            rows.append((f"generate 64x64, 2 steps ({size}): /runsync round trip", statistics.median(calls)))
            rows.append((f"generate 64x64, 2 steps ({size}): inference in the worker", statistics.median(infers)))
            if big:
                rows.append((f"generate 512x512, 25 steps ({size}): /runsync round trip", statistics.median(big)))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  seconds (median of {args.repeat})")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:8.3f}")


if __name__ == "__main__":
    main()
