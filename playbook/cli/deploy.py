"""`playbook plan | apply | destroy`: converge a target to a spec file, showing the diff first.

Every run prints which target it talks to (the local platform unless RUNPOD_API_KEY is set, or what
`--target` says) and which spec file it read, so nobody deploys to RunPod by surprise.
"""

from __future__ import annotations

DEFAULT_SPEC = "deploy/demo.toml"


def register(sub) -> None:
    for name, help_text in (("plan", "show what apply would create, update or leave unchanged"),
                            ("apply", "create or update the spec's network volume and endpoint (idempotent)"),
                            ("destroy", "delete the spec's endpoint (and its volume with --volume)")):
        parser = sub.add_parser(name, help=help_text)
        parser.add_argument("spec", nargs="?", default=DEFAULT_SPEC,
                            help=f"deployment spec, TOML or YAML (default: {DEFAULT_SPEC})")
        add_target_argument(parser)
        if name == "destroy":
            parser.add_argument("--volume", action="store_true",
                                help="also delete the network volume and the data on it")
        parser.set_defaults(func=globals()[f"run_{name}"])


def add_target_argument(parser) -> None:
    parser.add_argument("--target", default="auto", choices=("auto", "local", "runpod"),
                        help="local platform (default when RUNPOD_API_KEY is unset), or RunPod")


def connect(target_name: str):
    """The ControlClient for --target (``targets.connect``, which prints the target). On the local target
    with no platform running, one starts in the background, so a spec goes live with `plan` and `apply`
    alone; it keeps running (with the endpoint) until `playbook local down`."""
    from playbook.api import targets

    return targets.connect(target_name, start_local=start_in_background)


def start_in_background():
    from playbook.core.config import resolve_target
    from playbook.local.background import lifecycle

    state = lifecycle.start_background()
    print(f"started the local platform at {state['job_api_url']} (pid {state['pid']}); "
          "stop it with `playbook local down`")
    return resolve_target("local")


def _spec(path: str):
    from pathlib import Path

    from playbook.core.config import REPO_ROOT
    from playbook.deploy.spec import load_spec

    spec_path = Path(path)
    if not spec_path.is_file() and path == DEFAULT_SPEC and (REPO_ROOT / DEFAULT_SPEC).is_file():
        spec_path = REPO_ROOT / DEFAULT_SPEC
    print(f"spec: {spec_path}")
    return load_spec(spec_path)


def run_plan(args) -> int:
    from playbook import deploy

    spec = _spec(args.spec)
    print(deploy.plan(spec, connect(args.target)).table())
    return 0


def run_apply(args) -> int:
    from playbook import deploy

    spec = _spec(args.spec)
    client = connect(args.target)
    result = deploy.apply(spec, client)
    print(result.plan.table())
    if result.endpoint_id:
        print(f"endpoint {result.endpoint_id}: jobs go to {client.target.job_api_url}/{result.endpoint_id}/run")
    if result.volume_id:
        print(f"network volume {result.volume_id}")
    return 0


def run_destroy(args) -> int:
    from playbook import deploy

    spec = _spec(args.spec)
    print(deploy.destroy(spec, connect(args.target), volume=args.volume).table())
    return 0
