"""What several commands share: the `--target` option and the client it gives (the local platform starts in the
background when none runs), and the spec-file argument of `plan`, `apply` and `destroy`.

Every run prints which target it talks to (the local platform unless RUNPOD_API_KEY is set, or what
`--target` says) and which spec file it read, so nobody deploys to RunPod by surprise.
"""

from __future__ import annotations

DEFAULT_SPEC = "deploy/demo.toml"


def add_spec_argument(parser) -> None:
    parser.add_argument("spec", nargs="?", default=DEFAULT_SPEC,
                        help=f"deployment spec, TOML or YAML (default: {DEFAULT_SPEC})")


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


def load_spec_argument(path: str):
    from pathlib import Path

    from playbook.core.config import REPO_ROOT
    from playbook.deploy.spec import load_spec

    spec_path = Path(path)
    if not spec_path.is_file() and path == DEFAULT_SPEC and (REPO_ROOT / DEFAULT_SPEC).is_file():
        spec_path = REPO_ROOT / DEFAULT_SPEC
    print(f"spec: {spec_path}")
    return load_spec(spec_path)
