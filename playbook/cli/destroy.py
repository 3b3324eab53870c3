"""`playbook destroy`: delete the spec's endpoint (and its volume with --volume)."""

from __future__ import annotations

from playbook.cli.options import add_spec_argument, add_target_argument, connect, load_spec_argument


def register(sub) -> None:
    parser = sub.add_parser("destroy", help="delete the spec's endpoint (and its volume with --volume)")
    add_spec_argument(parser)
    add_target_argument(parser)
    parser.add_argument("--volume", action="store_true", help="also delete the network volume and the data on it")
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook import deploy

    spec = load_spec_argument(args.spec)
    print(deploy.destroy(spec, connect(args.target), volume=args.volume).table())
    return 0
