"""`playbook analyze`: what a model needs (files, bytes, parameters, VRAM, volume size, placement), from its
safetensors headers alone."""

from __future__ import annotations

import json


def register(sub) -> None:
    parser = sub.add_parser("analyze", help="files, bytes, parameters, VRAM, volume size and placement of a model")
    parser.add_argument("path", help="diffusers pipeline folder (with model_index.json)")
    parser.add_argument("--variant", help="weights variant, e.g. fp16 (default: the plain files, or the folder's "
                        "only variant when it holds no plain set)")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="load dtype (default: as stored)")
    parser.add_argument("--width", type=int, help="image width for the VRAM estimate (default: the model's native)")
    parser.add_argument("--height", type=int, help="image height for the VRAM estimate (default: the model's native)")
    parser.add_argument("--batch", type=int, default=1, help="images per request for the VRAM estimate")
    parser.add_argument("--hf-repo", help="the model's public Hugging Face repo (makes a RunPod cached model possible)")
    parser.add_argument("--json", action="store_true", help="print the whole analysis as one JSON object")
    parser.set_defaults(func=run_analyze)


def run_analyze(args) -> int:
    from playbook.weights import analyze

    result = analyze.analyze(args.path, variant=args.variant, dtype=args.dtype, width=args.width,
                             height=args.height, batch=args.batch)
    if args.json:
        print(json.dumps({**result.to_dict(), "placement": result.placements(hf_repo=args.hf_repo).to_dict()}))
        return 0
    for key, value in result.summary().items():
        print(f"{key:<22}{value:,}" if isinstance(value, int) else f"{key:<22}{value}")
    print(f"\n{'component':<14}{'params':>14}{'disk bytes':>16}{'GPU bytes':>16}  dtypes")
    for row in result.component_rows():
        print(f"{row['component']:<14}{row['params']:>14,}{row['disk_bytes']:>16,}{row['gpu_bytes']:>16,}  "
              f"{row['dtypes']}")
    print("\nVRAM (GB):")
    for term in result.vram_terms():
        print(f"  {term['gb']:>9.3f}  {term['term']} ({term['kind']}"
              + (f"; {term['calibration']})" if term["kind"] == "estimate" else ")"))
    print(f"\nnetwork volume: {result.volume_gb} GB (max(10, ceil(1.2 x bytes)); volumes grow but never shrink)")
    print(f"container disk: {result.container_disk_gb['network_volume']} GB with weights on a volume, "
          f"{result.container_disk_gb['bake']} GB baked")
    table = result.placements(hf_repo=args.hf_repo)
    print(f"\n{'placement':<22}{'cold s':>8}{'billed s':>10}{'$/month':>9}  limits")
    for r in table.rows:
        print(f"{r.placement:<22}{r.cold_start_s:>8.2f}{r.billed_s:>10.2f}{r.standing_usd_per_month:>9.2f}  {r.limits}")
    print(f"recommended: {table.recommended}: {table.why}")
    print(f"rates as of {table.rates.as_of}: {table.rates.source}")
    return 0
