"""`playbook report ENDPOINT_ID`: a self-contained HTML report of an endpoint (``playbook.doctor.report``)."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("report", help="write a self-contained HTML report of an endpoint (doctor, workers, "
                                           "cold starts, log tails)")
    parser.add_argument("endpoint_id")
    parser.add_argument("--out", default=None, help="the HTML file (default: build/reports/<endpoint>.html)")
    parser.add_argument("--worker", action="append", default=[],
                        help="also a worker that has stopped (repeatable); active workers are always included")
    from playbook.cli.deploy import add_target_argument

    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from playbook.core.config import build_dir, resolve_target
    from playbook.doctor.report import write_report

    target = resolve_target(None if args.target == "auto" else args.target)
    out = Path(args.out) if args.out else build_dir() / "reports" / f"{args.endpoint_id}.html"
    report = write_report(args.endpoint_id, target, out, worker_ids=args.worker)
    print(f"wrote {report.path} (doctor: {report.verdict}, {report.workers} active workers)")
    return 0
