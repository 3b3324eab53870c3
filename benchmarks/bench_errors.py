"""Error-message figures (issue 14): how long building the refusal of a hostile input takes, and how long the
message is, for the worker's input schema, the job envelope and the body limits. The point: microseconds to
a millisecond and a few hundred characters, whatever the input (before: a 100k-character prompt gave a
100k-character error; 10,000 unknown keys a megabyte-sized one that took seconds).

Run:
    python benchmarks/bench_errors.py             # median of 20 runs per case
    python benchmarks/bench_errors.py --repeats 100

Parsing the body itself (json.loads) is not counted: it is the same for any server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "worker"))

from imagegen import schema  # noqa: E402

from playbook.core.excerpts import excerpt, listing  # noqa: E402
from playbook.local.servers import job_envelope  # noqa: E402
from playbook.local.servers.limits import BodyError, parse_json  # noqa: E402


def deep(levels: int):
    value: object = {}
    for _ in range(levels):
        value = [value]
    return value


def worker_refusal(fields):
    try:
        schema.parse_generate(fields)
    except schema.InputError as exc:
        return str(exc)
    return ""


def envelope_refusal(body):
    try:
        job_envelope.check(body)
    except job_envelope.EnvelopeError as exc:
        return str(exc)
    return ""


def limits_refusal(raw: bytes):
    try:
        parse_json(raw, 20 * 1024 * 1024, "/runsync")
    except BodyError as exc:
        return exc.message
    return ""


CASES = [
    ("worker: 100k-character prompt", worker_refusal, {"prompt": "x" * 100_000}),
    ("worker: 10,000 unknown fields", worker_refusal, {f"k{i}": 1 for i in range(10_000)}),
    ("worker: 100k-item list as prompt", worker_refusal, {"prompt": ["x"] * 100_000}),
    ("envelope: 10,000 unknown fields", envelope_refusal, {"input": {}, **{f"k{i}": 1 for i in range(10_000)}}),
    ("envelope: 1 MB policy string", envelope_refusal, {"input": {}, "policy": "p" * 1_000_000}),
    ("envelope: 10**5000 timeout", envelope_refusal, {"input": {}, "policy": {"executionTimeout": 10 ** 5000}}),
    ("limits: 100,000-deep nesting", limits_refusal, b"[" * 100_000 + b"]" * 100_000),
    ("limits: 65-deep nesting", limits_refusal, b"[" * 65 + b"]" * 65),
    ("excerpt: dict of 10,000 keys", excerpt, {f"k{i}": i for i in range(10_000)}),
    ("listing: 10,000 names", lambda names: listing(names, "unknown fields"), [f"k{i}" for i in range(10_000)]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    worker_refusal({"prompt": ""})  # warm the schema's cached descriptions once
    print(f"{'case':36} {'median_us':>10} {'max_us':>10} {'message_chars':>14}")
    for name, fn, value in CASES:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            message = fn(value)
            times.append((time.perf_counter() - t0) * 1e6)
        print(f"{name:36} {statistics.median(times):10.1f} {max(times):10.1f} {len(message):14,}")


if __name__ == "__main__":
    main()
