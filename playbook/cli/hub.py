"""`playbook hub write|check|test`: the RunPod Hub files, generated, linted and tested locally."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("hub", help="RunPod Hub files (.runpod/hub.json, tests.json): write, check, test")
    cmds = parser.add_subparsers(dest="hub_command", required=True, metavar="ACTION")
    for name, text in (("write", "regenerate them from the spec and the worker's contract"),
                       ("check", "fail when they differ from what write makes, or break RunPod's documented fields")):
        cmd = cmds.add_parser(name, help=text)
        cmd.add_argument("--spec", help="deployment spec (default: deploy/demo.toml)")
        cmd.set_defaults(func=run_write if name == "write" else run_check)
    test = cmds.add_parser("test", help="run tests.json on the local platform and check every output")
    test.add_argument("--tests", help="tests file (default: .runpod/tests.json)")
    test.add_argument("--handler", help="worker handler file (default: worker/handler.py)")
    test.add_argument("--volume", help="folder standing in for /runpod-volume (default: build/volume)")
    test.set_defaults(func=run_test)


def _spec(args):
    from playbook.deploy.spec import load_spec

    return load_spec(args.spec) if args.spec else None


def run_write(args) -> int:
    from playbook.core.config import REPO_ROOT
    from playbook.journey import hub

    changed = hub.write(_spec(args))
    print("rewrote " + ", ".join(str(p.relative_to(REPO_ROOT)) for p in changed) if changed
          else "hub files already up to date")
    return 0


def run_check(args) -> int:
    import json

    from playbook.core.config import REPO_ROOT
    from playbook.journey import hub

    spec = _spec(args)
    stale = hub.drifted(spec)
    problems = [f"{p.relative_to(REPO_ROOT)} is out of date: run `playbook hub write`" for p in stale]
    files = [hub.HUB_DIR / "hub.json", hub.HUB_DIR / "tests.json"]
    if all(p.is_file() for p in files):
        problems += hub.lint(*(json.loads(p.read_text()) for p in files))
    print("\n".join(problems) if problems else "hub files are current and use only RunPod's documented fields")
    return 1 if problems else 0


def run_test(args) -> int:
    from pathlib import Path

    from playbook.journey import hub_trial as hub_test

    run = hub_test.run_tests(Path(args.tests) if args.tests else None, Path(args.handler) if args.handler else None,
                             Path(args.volume) if args.volume else None)
    print(run.summary())
    return 0 if run.ok else 1
