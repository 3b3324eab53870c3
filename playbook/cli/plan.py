"""`playbook plan`: show what apply would create, update or leave unchanged."""

from __future__ import annotations

from playbook.cli.options import add_spec_argument, add_target_argument, connect, load_spec_argument


def register(sub) -> None:
    parser = sub.add_parser("plan", help="show what apply would create, update or leave unchanged")
    add_spec_argument(parser)
    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook import deploy

    spec = load_spec_argument(args.spec)
    print(deploy.plan(spec, connect(args.target)).table())
    return 0
