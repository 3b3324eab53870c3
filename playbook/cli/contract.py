"""`playbook contract`: check (default) or rewrite the worker's generated contract files."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("contract", help="check or regenerate the worker's JSON Schema, OpenAPI document, "
                                             "test_input.json, README table and shared modules")
    parser.add_argument("--write", action="store_true", help="rewrite the copies that differ")
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook.core.config import REPO_ROOT
    from playbook.journey import contract

    changed = contract.write() if args.write else contract.drifted()
    names = ", ".join(str(p.relative_to(REPO_ROOT)) for p in changed)
    if args.write:
        print(f"rewrote {names}" if changed else "contract files already up to date")
        return 0
    if changed:
        print(f"out of date: {names}; run `playbook contract --write` and commit them")
        return 1
    print("contract files match the worker's models")
    return 0
