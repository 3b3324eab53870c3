"""`playbook volume push|verify|ls`: weights on a network volume through RunPod's S3 API."""

from __future__ import annotations


def register(sub) -> None:
    vol = sub.add_parser("volume", help="push a model to a network volume through the S3 API, verify, list")
    vsub = vol.add_subparsers(dest="volume_command", required=True, metavar="ACTION")
    from playbook.cli.options import add_target_argument

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


def _location(args):
    from playbook.cli.options import connect
    from playbook.storage import volume

    client = connect(args.target)
    vol = client.get_network_volume(args.volume)
    return volume.location(client.target, vol["id"], vol["dataCenter"])


def run_push(args) -> int:
    from playbook.storage import volume
    from playbook.weights import analyze

    analysis = analyze.analyze(args.path, variant=args.variant) if args.variant else None
    include = analysis.upload_files() if analysis else None
    transfer = volume.Transfer(part_size_bytes=int(args.part_size_mb * volume.MB), parallel_parts=args.parallel_parts)
    report = volume.push(args.path, _location(args), args.dest, include=include, transfer=transfer)
    print(f"pushed {report.uploaded_files} of {report.files} files, {report.uploaded_bytes:,} bytes "
          f"({report.skipped_bytes:,} already there) in {report.seconds} s, {report.mb_per_s} MB/s; "
          f"{report.multipart_files} multipart, {report.retries} retries")
    if analysis and analysis.variant:
        print(f"the worker loads the {analysis.variant} files: only they were pushed, so it detects them "
              f"(or set MODEL_VARIANT={analysis.variant} on the endpoint)")
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
