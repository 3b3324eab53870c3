"""`playbook notebooks`: run the playbook's notebooks headless and write executed copies and HTML."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("notebooks", help="run every notebook headless (papermill) into the build folder")
    parser.add_argument("names", nargs="*", help="notebook names or prefixes (default: all), e.g. 00 03_handler")
    parser.add_argument("--out", help="output folder (default: build/notebooks)")
    parser.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a notebook parameter, passed to every notebook that declares it "
                             "(e.g. -p model_dir=/data/my-model -p target=runpod); repeatable")
    parser.add_argument("--target", choices=("auto", "local", "runpod"), default=None,
                        help="where the notebooks deploy: local runs the journey offline even with RUNPOD_API_KEY "
                             "set (default: PLAYBOOK_TARGET, else RunPod when RUNPOD_API_KEY is set, else local)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import os
    from pathlib import Path

    from playbook.core.config import TARGET_ENV
    from playbook.journey import notebooks

    if args.target:
        os.environ[TARGET_ENV] = args.target  # the kernels inherit it: every resolve_target() in them agrees
    paths = notebooks.select(args.names)
    out = Path(args.out) if args.out else None
    results = notebooks.run_all(paths, out_dir=out, parameters=notebooks.parse_parameters(args.parameter))
    print(notebooks.summary(results))
    return 0 if all(r.ok for r in results) else 1
