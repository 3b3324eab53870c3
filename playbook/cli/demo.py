"""`playbook demo-model`: make the random-weight demo pipeline on the local volume."""

from __future__ import annotations


def register(sub) -> None:
    from playbook.weights.demo_model import SIZES

    parser = sub.add_parser("demo-model", help="make the demo text-to-image model (offline, seconds)")
    parser.add_argument("--size", default="tiny", choices=list(SIZES),
                        help="tiny (default, under 1 MB), small (~30 MB) or medium (~430 MB, for benchmarks)")
    parser.add_argument("--out", help="model folder (default: build/volume/models/tiny-sd)")
    parser.add_argument("--force", action="store_true", help="remake it even if it exists")
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from playbook.weights import demo_model

    target = Path(args.out) if args.out else demo_model.demo_model_dir()
    if not args.force and demo_model.is_demo_model(target, args.size):
        print(f"demo model ({args.size}) already at {target} (--force remakes it)")
        return 0
    made = demo_model.make_demo_model_timed(target, args.size)
    print(f"demo model ({made.size}, {made.size_mb:.1f} MB, {made.files} files) made in "
          f"{made.seconds:.1f} s at {made.path}")
    return 0
