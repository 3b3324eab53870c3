"""`playbook sweep`: list (and with --delete, delete) stale playbook-made endpoints, templates, volumes on the
target and worker images in the local Docker daemon."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("sweep", help="list or delete stale playbook-made resources (name prefix playbook-)")
    parser.add_argument("--older-than", default="24h", help="age before a resource is stale: 90s, 30m, 12h, 7d")
    parser.add_argument("--delete", action="store_true", help="delete them (default: list only)")
    parser.add_argument("--volumes", action="store_true", help="network volumes too (they hold your weights)")
    parser.add_argument("--images", action="store_true", help="local worker images too (local/playbook-worker*)")
    from playbook.cli.deploy import add_target_argument

    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook.cli.deploy import connect
    from playbook.deploy import janitor

    report = janitor.sweep(connect(args.target), janitor.parse_age(args.older_than), delete=args.delete,
                           volumes=args.volumes, images=args.images)
    for line in report.lines() or ["nothing made by the playbook found"]:
        print(line)
    if not args.delete and any(s.action == "delete" for s in report.items):
        print("dry run: add --delete to delete the rows marked delete")
    return 0
