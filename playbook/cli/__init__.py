"""The `playbook` command. Each command group lives in its own module under playbook.cli with a
``register(subparsers)`` function; heavy imports happen inside the command functions so that
``playbook --help`` stays fast. Errors the playbook raises on purpose print as one line, no traceback."""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from playbook.core.errors import PlaybookError

COMMAND_MODULES = ["notebooks", "demo", "local", "deploy", "gpus", "build", "weights", "cost", "janitor",
                   "contract", "hub", "doctor", "report"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="playbook", description="Take a model from a folder on disk to a RunPod Serverless endpoint.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"playbook.cli.{name}").register(sub)
    return parser


BULLET = re.compile(r"^\s*-\s+")  # "- detail" lines; not "--option"


def one_line(exc: BaseException) -> str:
    """An error's message on one line: its lines joined, details after the first one separated by "; "."""
    lines = (BULLET.sub("", line).strip() for line in str(exc).splitlines())
    return "; ".join(line for line in lines if line)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except PlaybookError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
