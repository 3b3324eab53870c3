"""Figures for diagnosis: the doctor on a labelled corpus of deployments broken from real causes (the
confusion table: a case is right when the verdict is its label and the evidence names the cause), the
doctor's latency and API calls per diagnosis, and the demo worker's cold start by phase (process, and
container when an image is given), compared with a stored baseline.

Why a script and not a test: timings depend on the machine; tests assert behaviour, this prints numbers.
Run:
    python benchmarks/bench_doctor.py --corpus-only [--record tests/data/doctor] [--case NAME ...]
    python benchmarks/bench_doctor.py [--polls 5] [--starts 2] [--image local/playbook-worker:latest]
    python benchmarks/bench_doctor.py --update-baseline     # store this machine's figures as the baseline
A phase more than 20 % slower than the baseline (and by more than 50 ms) is reported as a regression.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the corpus (tests/doctor_corpus.py) is shared with the tests

from playbook.api.control import ControlClient  # noqa: E402
from playbook.api.jobs import JobClient  # noqa: E402
from playbook.doctor import diagnose as doctor  # noqa: E402
from playbook.monitor import coldstart  # noqa: E402
from playbook.monitor import metrics as monitor  # noqa: E402

BASELINE = Path(__file__).with_name("baselines") / "coldstart.json"
REGRESSION = 0.20
NOISE_S = 0.05
JOB = {"prompt": "a lighthouse", "width": 64, "height": 64, "num_inference_steps": 2, "seed": 1}


def bench_doctor(platform, polls: int) -> list[dict]:
    """For each kind of broken endpoint: the first diagnosis (cold caches) and later polls."""
    import playbook.local as local

    rows = []
    # min 1 where workers die at start: the platform then keeps restarting them, as RunPod does
    for fault, min_workers in (("no_stock", 0), ("image_pull", 0), ("crash_loop", 1), ("cuda_mismatch", 1)):
        cfg = platform.create_endpoint(local.EndpointConfig(name=f"bench-{fault}", env={"PLAYBOOK_FAULT": fault},
                                                            workers_min=min_workers, scaler_value=0))
        if not min_workers:
            JobClient(platform.target, cfg.id).run({"value": 1})
        time.sleep(2.0)  # let the symptom show
        doc = doctor.Doctor(platform.target)
        runs = [doc.diagnose(cfg.id) for _ in range(polls + 1)]
        later = runs[1:]
        rows.append({"fault": fault, "verdict": runs[0].verdict, "first_s": round(runs[0].elapsed_s, 3),
                     "first_calls": runs[0].api_calls,
                     "poll_p50_s": round(statistics.median(r.elapsed_s for r in later), 3),
                     "poll_calls_max": max(r.api_calls for r in later),
                     "right": sum(r.verdict == runs[0].verdict for r in later)})
    return rows


def bench_corpus(platform, names: list[str] | None, record: Path | None) -> bool:
    """Every corpus case (or those named): the confusion table, and each wrong one with its diagnosis."""
    import doctor_corpus as corpus

    from playbook.image import dockerhost

    docker = dockerhost.daemon_status().available
    # simulated faults and the cases that install a package from PyPI: only by name (recording)
    everything = corpus.CASES + (corpus.SIMULATED + corpus.NEEDS_PYPI if names else [])
    cases = [c for c in everything if (not names or c.name in names) and (c.needs != "docker" or docker)]
    skipped = [c.name for c in corpus.CASES if c.needs == "docker" and not docker]
    clinic = corpus.Clinic(platform, Path(tempfile.mkdtemp(prefix="bench-doctor-corpus-")))
    start = time.monotonic()
    outcomes = corpus.run(clinic, cases)
    print(f"doctor on the corpus: {len(outcomes)} cases in {time.monotonic() - start:.0f} s"
          + (f" (skipped, no Docker daemon: {', '.join(skipped)})" if skipped else ""))
    for o in outcomes:
        mark = "ok " if o.right else ("BAD" if o.verdict != o.case.expected else "EVD")
        print(f"  {mark} {o.case.name:24} {o.case.expected:18} -> {o.verdict:18} {o.seconds:5.2f} s")
        if not o.right:
            print("      " + o.text.replace("\n", "\n      "))
        if record is not None and o.observation is not None:
            corpus.record(o, record)
    print(corpus.confusion(outcomes))
    broken_healthy = [o.case.name for o in outcomes if o.case.expected != "healthy" and o.verdict == "healthy"]
    false_alarms = [o.case.name for o in outcomes if o.case.expected == "healthy" and o.verdict != "healthy"]
    print(f"'healthy' on a broken endpoint: {broken_healthy or 'none'}; false alarms: {false_alarms or 'none'}")
    return not broken_healthy and not false_alarms


def bench_cold_start(platform, starts: int, image: str | None) -> dict[str, dict[str, float]]:
    """Median seconds per phase of the demo worker's cold start, per runner."""
    import playbook.local as local
    from playbook.weights.demo_model import make_demo_model

    out = {}
    volume = Path(tempfile.mkdtemp(prefix="bench-doctor-"))
    make_demo_model(volume / "models" / "tiny-sd")
    control = ControlClient(platform.target, retries=0)
    for runner, img in (("process", None), ("container", image)):
        if runner == "container" and not img:
            continue
        samples: list[coldstart.ColdStart] = []
        for i in range(starts):
            cfg = platform.create_endpoint(local.EndpointConfig(name=f"bench-{runner}-{i}", image=img,
                                                                volume_dir=volume, idle_timeout_s=1))
            result = JobClient(platform.target, cfg.id).run_sync(JOB, timeout_s=300)
            if not result.ok:
                raise SystemExit(f"{runner} worker failed: {result.error}")
            workers = platform.list_workers(cfg.id, include_exited=True)
            samples += monitor.cold_starts(control, cfg.id, [w.id for w in workers][:1])
            platform.delete_endpoint(cfg.id)
        phases = list(dict.fromkeys(p for s in samples for p in s.phases_s))
        out[runner] = {p: round(statistics.median(s.phases_s.get(p, 0.0) for s in samples), 3) for p in phases}
        out[runner]["total"] = round(statistics.median(s.total_s for s in samples), 3)
    return out


def compare(now: dict, base: dict) -> list[str]:
    lines = []
    for runner, phases in now.items():
        for phase, seconds in phases.items():
            before = base.get(runner, {}).get(phase)
            if before is None:
                continue
            change = (seconds - before) / before if before else 0.0
            flag = "REGRESSION" if change > REGRESSION and seconds - before > NOISE_S else ""
            lines.append(f"  {runner:9} {phase:22} {before:8.3f} -> {seconds:8.3f} s  {change:+7.1%}  {flag}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=5)
    parser.add_argument("--starts", type=int, default=2)
    parser.add_argument("--image", help="a local worker image: also measure a container's cold start")
    parser.add_argument("--update-baseline", action="store_true")
    parser.add_argument("--corpus-only", action="store_true", help="only the labelled corpus' confusion table")
    parser.add_argument("--case", nargs="*", help="only these corpus cases")
    parser.add_argument("--record", type=Path, help="write each case's observation (JSON) into this folder")
    args = parser.parse_args()

    import playbook.local as local

    with local.start(record=False) as platform:
        clean = bench_corpus(platform, args.case, args.record)
        if args.corpus_only:
            return 0 if clean else 1
        print("doctor: latency and API calls per diagnosis (local platform)")
        for row in bench_doctor(platform, args.polls):
            print(f"  {row['fault']:14} verdict {row['verdict']:14} first {row['first_s']:6.3f} s "
                  f"({row['first_calls']} calls); later polls p50 {row['poll_p50_s']:6.3f} s, "
                  f"at most {row['poll_calls_max']} calls; same verdict {row['right']}/{args.polls}")
        figures = bench_cold_start(platform, args.starts, args.image)
    print("cold start by phase (median seconds):")
    for runner, phases in figures.items():
        print(f"  {runner}: " + ", ".join(f"{p} {s:.3f}" for p, s in phases.items()))
    if args.update_baseline or not BASELINE.exists():
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"baseline written: {BASELINE.relative_to(ROOT)}")
        return 0
    lines = compare(figures, json.loads(BASELINE.read_text()))
    print(f"against the baseline ({BASELINE.relative_to(ROOT)}); regressions are > {REGRESSION:.0%}:")
    print("\n".join(lines) or "  nothing to compare")
    return 1 if any("REGRESSION" in line for line in lines) else 0


if __name__ == "__main__":
    raise SystemExit(main())
