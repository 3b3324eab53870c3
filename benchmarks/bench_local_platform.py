"""Figures for the local platform, side by side in one run (not a test; prints a table).

* per-job overhead of a no-op handler (end-to-end /runsync latency minus handler time), p50 and p95,
  on the local platform and on RunPod's own `--rp_serve_api`, sequential requests to a warm worker;
* pickup delay: from the job ending on the platform (delayTime + executionTime after submission) to the
  client seeing it, with JobClient.wait()'s /status polling after /run (it tightens near the finish it
  expects from recent jobs); ``--pickup-only`` prints just these figures, for a no-op and a 0.5 s job;
* throughput (jobs/s) with 1 and 2 warm workers, a no-op and a 0.5 s handler, at the SDK's default
  concurrency (its 1 s pause after each job take) and with WORKER_PREFETCH=1;
* the demo worker's cold start (spawn to first job take) and its first job's latency;
* N demo workers started at once, forked from the platform's warm process (worker/preimport.py) and started
  cold (PLAYBOOK_WORKER_FORK=0), side by side: the wall time to N first jobs, the median cold start, and the
  CPU seconds the workers (and the fork server) used; ``--starts-only`` prints just these.

    python benchmarks/bench_local_platform.py [--requests 30] [--jobs 12] [--pickup-only] [--starts-only [N]]
"""

from __future__ import annotations

import argparse
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

import playbook.local as local  # noqa: E402
from playbook.api.jobs import JobClient  # noqa: E402
from playbook.core.config import Target  # noqa: E402
from playbook.core.secrets import Secret  # noqa: E402
from playbook.core.waiting import wait_for  # noqa: E402
from playbook.local import EndpointConfig  # noqa: E402
from playbook.monitor.metrics import percentile  # noqa: E402

WORKERS = ROOT / "tests" / "workers"


def wait_ready(platform, endpoint_id: str, count: int, timeout_s: float = 120) -> None:
    wait_for(lambda: sum(w.state == "idle" for w in platform.list_workers(endpoint_id)) >= count, timeout_s,
             what=f"{count} idle workers", interval_s=0.05, max_interval_s=0.05)


def endpoint(platform, handler: str, workers: int, prefetch: int = 0, **fields):
    cfg = platform.create_endpoint(EndpointConfig(
        name=handler, handler_path=WORKERS / f"{handler}.py", workers_min=workers, workers_max=workers,
        idle_timeout_s=60, env={"WORKER_PREFETCH": str(prefetch)}, **fields))
    wait_ready(platform, cfg.id, workers)
    return cfg, JobClient(platform.target, cfg.id)


def sequential_runsync(jobs: JobClient, n: int, pause_s: float = 0.0) -> list[float]:
    jobs.run_sync({"warm": True})
    latencies = []
    for i in range(n):
        time.sleep(pause_s)
        start = time.perf_counter()
        result = jobs.run_sync({"i": i})
        latencies.append(time.perf_counter() - start)
        assert result.ok, result
    return latencies


def rp_serve_api_latencies(n: int) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(WORKERS / "noop_handler.py"), "--rp_serve_api", "--rp_api_host",
                             "127.0.0.1", "--rp_api_port", str(port), "--rp_log_level", "ERROR"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{url}/docs", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        return sequential_runsync(JobClient(Target("rp_serve_api", url, url, Secret("unused")), ""), n)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def pickup_delays(jobs: JobClient, n: int, job_input: dict | None = None) -> list[float]:
    """Client-seen latency minus the platform's own delayTime + executionTime, for /run + wait()."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        result = jobs.wait(jobs.run({**(job_input or {}), "i": i}), 30, _start=start)
        out.append(result.latency_s - (result.delay_ms + result.execution_ms) / 1000)
    return out


def throughput(platform, handler: str, workers: int, prefetch: int, n: int, job_input: dict) -> tuple[float, float]:
    cfg, jobs = endpoint(platform, handler, workers, prefetch)
    jobs.run_batch([job_input] * workers, concurrency=workers, progress=False)  # warm the handlers
    start = time.perf_counter()
    ids = [jobs.run(job_input) for _ in range(n)]
    ends = []
    for job_id in ids:
        result = jobs.wait(job_id, 120)
        assert result.ok, result
        ends.append(time.perf_counter())
    wall = max(ends) - start
    gaps = [b - a for a, b in zip(sorted(ends), sorted(ends)[1:], strict=False)]
    platform.delete_endpoint(cfg.id)
    return n / wall, statistics.median(gaps) if gaps else float("nan")


def demo_cold_start(platform) -> tuple[float, float]:
    from playbook.weights.demo_model import make_demo_model

    volume = Path(tempfile.mkdtemp(prefix="bench-volume-"))
    make_demo_model(volume / "models" / "tiny-sd")
    cfg = platform.create_endpoint(EndpointConfig(name="demo", volume_dir=volume, workers_max=1, idle_timeout_s=60))
    jobs = JobClient(platform.target, cfg.id)
    first = jobs.run_sync({"prompt": "cold", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1},
                          timeout_s=180)
    assert first.ok, first.error
    (worker,) = platform.list_workers(cfg.id)
    platform.delete_endpoint(cfg.id)
    return worker.cold_start_s, first.latency_s


def worker_starts(n: int, fork: bool) -> tuple[float, float, float]:
    """(wall s to n first jobs, median cold start s, CPU s of the platform's child processes) for n demo workers
    started at once on a fresh platform; the CPU is counted once the platform (and its fork server) stopped."""
    import os
    import resource

    from playbook.weights.demo_model import make_demo_model

    os.environ["PLAYBOOK_WORKER_FORK"] = "1" if fork else "0"
    volume = Path(tempfile.mkdtemp(prefix="bench-volume-"))
    make_demo_model(volume / "models" / "tiny-sd")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with local.start(record=False, log_dir=Path(tempfile.mkdtemp(prefix="bench-starts-"))) as platform:
        cfg = platform.create_endpoint(EndpointConfig(name="starts", volume_dir=volume, workers_max=n,
                                                      idle_timeout_s=60, scaler_type="REQUEST_COUNT",
                                                      scaler_value=1))
        jobs = JobClient(platform.target, cfg.id)
        start = time.perf_counter()
        ids = [jobs.run({"prompt": f"start {i}", "width": 64, "height": 64, "num_inference_steps": 2})
               for i in range(n)]
        assert all(jobs.wait(i, timeout_s=600).status == "COMPLETED" for i in ids)
        wall = time.perf_counter() - start
        colds = [w.cold_start_s for w in platform.list_workers(cfg.id) if w.cold_start_s is not None]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.environ.pop("PLAYBOOK_WORKER_FORK")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, statistics.median(colds) if colds else float("nan"), cpu


def start_rows(n: int) -> list[tuple[str, str]]:
    rows = []
    for fork in (True, False):
        wall, cold, cpu = worker_starts(n, fork)
        how = "forked (warm process)" if fork else "cold (PLAYBOOK_WORKER_FORK=0)"
        rows.append((f"{n} demo workers at once, {how}",
                     f"{wall:6.1f} s to {n} first jobs, cold start median {cold:5.1f} s, {cpu:6.1f} CPU s"))
    return rows


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="sequential requests per latency figure")
    parser.add_argument("--jobs", type=int, default=12, help="jobs per throughput figure")
    parser.add_argument("--pickup-only", action="store_true", help="only the pickup-delay figures (quick)")
    parser.add_argument("--starts-only", type=int, nargs="?", const=4, default=None, metavar="N",
                        help="only N workers started at once, forked and cold (default 4)")
    args = parser.parse_args()
    if args.starts_only:
        for name, value in start_rows(args.starts_only):
            print(f"{name:<50}  {value}")
        return
    logs = Path(tempfile.mkdtemp(prefix="bench-local-"))
    rows = []
    with local.start(record=False, log_dir=logs) as platform:
        if args.pickup_only:
            for handler, job_input in (("noop_handler", {}), ("sleep_handler", {"sleep_s": 0.5})):
                cfg, jobs = endpoint(platform, handler, 1)
                jobs.run_sync({"warm": True})
                pickup = pickup_delays(jobs, args.requests, job_input)
                platform.delete_endpoint(cfg.id)
                rows.append((f"pickup delay, /run + wait(), {handler}", f"p50 {ms(pickup, 50)}   p95 {ms(pickup, 95)}"))
            for name, value in rows:
                print(f"{name:<50}  {value}")
            return
        cfg, jobs = endpoint(platform, "noop_handler", 1)
        local_lat = sequential_runsync(jobs, args.requests)
        spaced_lat = sequential_runsync(jobs, args.requests, pause_s=1.2)
        execution = [jobs.run_sync({"i": i}).execution_ms / 1000 for i in range(5)]
        pickup = pickup_delays(jobs, args.requests)
        platform.delete_endpoint(cfg.id)
        sdk_lat = rp_serve_api_latencies(args.requests)
        rows.append(("no-op /runsync overhead, local, back to back (SDK 1 s pause)",
                     f"p50 {ms(local_lat, 50)}   p95 {ms(local_lat, 95)}"))
        rows.append(("no-op /runsync overhead, local, worker waiting in job take",
                     f"p50 {ms(spaced_lat, 50)}   p95 {ms(spaced_lat, 95)}"))
        rows.append(("  of which executionTime (SDK's 0.1 s job-queue poll)", f"p50 {ms(execution, 50)}"))
        rows.append(("no-op /runsync overhead, --rp_serve_api", f"p50 {ms(sdk_lat, 50)}   p95 {ms(sdk_lat, 95)}"))
        rows.append(("pickup delay, /run + adaptive /status polling", f"p50 {ms(pickup, 50)}   p95 {ms(pickup, 95)}"))
        for handler, job_input, label in (("noop_handler", {}, "no-op"), ("sleep_handler", {"sleep_s": 0.5}, "0.5 s")):
            for workers in (1, 2):
                for prefetch in (0, 1, 2):
                    rate, gap = throughput(platform, handler, workers, prefetch, args.jobs, job_input)
                    mode = f"WORKER_PREFETCH={prefetch}" + (" (SDK default)" if not prefetch else "              ")
                    rows.append((f"throughput {label:>5} handler, {workers} worker(s), {mode}",
                                 f"{rate:5.2f} jobs/s  (median gap between completions {gap * 1000:6.0f} ms)"))
        cold, first = demo_cold_start(platform)
        rows.append(("demo worker cold start (spawn to first job take)", f"{cold:6.2f} s"))
        rows.append(("demo worker first job /runsync latency (incl. cold start)", f"{first:6.2f} s"))
    rows += start_rows(4)
    width = max(len(r[0]) for r in rows)
    print(f"\nlocal platform benchmark ({args.requests} requests, {args.jobs} jobs per throughput figure)")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
