"""`playbook gpus`: the GPU pool catalog, and the cheapest pools that fit a VRAM need."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("gpus", help="list GPU pools with VRAM and price; pick the cheapest that fit")
    parser.add_argument("--vram-gb", type=float, help="VRAM the model needs; prints the cheapest pools that fit")
    parser.add_argument("--headroom", type=float, default=0.2, help="extra VRAM fraction on top (default 0.2)")
    parser.add_argument("--live", action="store_true",
                        help="read pools, stock and CUDA versions from the target's /v2/catalog/gpus")
    parser.add_argument("--catalog", help="TOML/YAML/JSON file overriding prices (default: PLAYBOOK_GPU_CATALOG)")
    from playbook.cli.deploy import add_target_argument

    add_target_argument(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook.api import gpus

    if args.live:
        from playbook.cli.deploy import connect

        catalog = gpus.live_catalog(connect(args.target))
    else:
        print("target: none contacted (dated price table; --live reads the target's catalog)")
        catalog = gpus.load_catalog(args.catalog)
    print(catalog.table())
    if args.vram_gb is not None:
        pools = catalog.cheapest(args.vram_gb, args.headroom)
        print(f"cheapest pools for {args.vram_gb} GB + {args.headroom:.0%} headroom: {', '.join(pools)}")
    return 0
