"""`playbook analyze` (what a model needs) and `playbook volume push|verify|ls` (weights on a network
volume through RunPod's S3 API)."""

from __future__ import annotations

import json


def register(sub) -> None:
    parser = sub.add_parser("analyze", help="files, bytes, parameters, VRAM, volume size and placement of a model")
    parser.add_argument("path", help="diffusers pipeline folder (with model_index.json)")
    parser.add_argument("--variant", help="weights variant, e.g. fp16 (the plain files when absent)")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), help="load dtype (default: as stored)")
    parser.add_argument("--width", type=int, default=512, help="image width for the VRAM estimate")
    parser.add_argument("--height", type=int, default=512, help="image height for the VRAM estimate")
    parser.add_argument("--batch", type=int, default=1, help="images per request for the VRAM estimate")
    parser.add_argument("--hf-repo", help="the model's public Hugging Face repo (makes a RunPod cached model possible)")
    parser.add_argument("--json", action="store_true", help="print the whole analysis as one JSON object")
    parser.set_defaults(func=run_analyze)

    vol = sub.add_parser("volume", help="push a model to a network volume through the S3 API, verify, list")
    vsub = vol.add_subparsers(dest="volume_command", required=True, metavar="ACTION")
    from playbook.cli.deploy import add_target_argument

    push = vsub.add_parser("push", help="upload a model folder (only what is missing) and write its manifest")
    push.add_argument("path", help="local model folder")
    verify = vsub.add_parser("verify", help="compare the volume with the manifest; exit 1 naming bad files")
    verify.add_argument("--hashes", action="store_true", help="also read every file back and compare sha256")
    ls = vsub.add_parser("ls", help="list objects (and empty directories) on the volume")
    ls.add_argument("prefix", nargs="?", default="", help="path under /runpod-volume")
    for p in (push, verify, ls):
        p.add_argument("--volume", required=True, help="network volume id (the S3 bucket)")
        add_target_argument(p)
    for p in (push, verify):
        p.add_argument("--dest", required=True, help="folder on the volume, e.g. models/my-model")
    push.add_argument("--variant", help="push only the files from_pretrained reads for this variant")
    push.add_argument("--part-size-mb", type=float, default=100, help="multipart part size (default 100)")
    push.add_argument("--parallel-parts", type=int, default=4, help="parts uploaded at once (default 4)")
    for p, fn in ((push, run_push), (verify, run_verify), (ls, run_ls)):
        p.set_defaults(func=fn)


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
        print(f"  {term['gb']:>9.3f}  {term['term']} ({term['kind']})")
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


def _location(args):
    from playbook.cli.deploy import connect
    from playbook.storage import volume

    client = connect(args.target)
    vol = client.get_network_volume(args.volume)
    return volume.location(client.target, vol["id"], vol["dataCenter"])


def run_push(args) -> int:
    from playbook.storage import volume
    from playbook.weights import analyze

    include = analyze.analyze(args.path, variant=args.variant).upload_files() if args.variant else None
    transfer = volume.Transfer(part_size_bytes=int(args.part_size_mb * volume.MB), parallel_parts=args.parallel_parts)
    report = volume.push(args.path, _location(args), args.dest, include=include, transfer=transfer)
    print(f"pushed {report.uploaded_files} of {report.files} files, {report.uploaded_bytes:,} bytes "
          f"({report.skipped_bytes:,} already there) in {report.seconds} s, {report.mb_per_s} MB/s; "
          f"{report.multipart_files} multipart, {report.retries} retries")
    return 0


def run_verify(args) -> int:
    from playbook.storage import volume

    report = volume.verify(_location(args), args.dest, hashes=args.hashes)
    if report.ok:
        print(f"ok: {report.files} files match the manifest" + (" (sha256 checked)" if args.hashes else ""))
        return 0
    print(f"volume {report.volume_id} at {report.dest}: {report.problems()}")
    return 1


def run_ls(args) -> int:
    from playbook.storage import volume

    for obj in volume.ls(_location(args), args.prefix):
        print(f"{obj.size_bytes:>14,}  {obj.key}")
    return 0
