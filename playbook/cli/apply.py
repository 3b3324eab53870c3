"""`playbook apply`: create or update the spec's network volume and endpoint (idempotent)."""

from __future__ import annotations

from playbook.cli.options import add_spec_argument, add_target_argument, connect, load_spec_argument


def register(sub) -> None:
    parser = sub.add_parser("apply", help="create or update the spec's network volume and endpoint (idempotent)")
    add_spec_argument(parser)
    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook import deploy

    spec = load_spec_argument(args.spec)
    client = connect(args.target)
    result = deploy.apply(spec, client)
    print(result.plan.table())
    if result.endpoint_id:
        print(f"endpoint {result.endpoint_id}: jobs go to {client.target.job_api_url}/{result.endpoint_id}/run")
    if result.volume_id:
        print(f"network volume {result.volume_id}")
    return 0
