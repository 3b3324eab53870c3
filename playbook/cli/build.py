"""`playbook build`: lint, build for linux/amd64, check the platform, report sizes, optionally push."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("build", help="build the worker image for linux/amd64, check it, optionally push it")
    parser.add_argument("--cloud", action="store_true",
                        help="the image for RunPod: CUDA 13.0 torch from PyPI wheels, built offline on the local "
                             "Python base (default: the local image, CPU torch)")
    parser.add_argument("--nocache", action="store_true", help="ignore the layer cache (a cold build)")
    parser.add_argument("--push", action="store_true", help="push to the registry and record the digest")
    parser.add_argument("--registry", help="host:port of the registry (default: PLAYBOOK_REGISTRY or services.sh's)")
    parser.add_argument("--budget-gb", type=float, help="warn above this image size (default 10)")
    parser.add_argument("--lint-only", action="store_true", help="only render and lint the Dockerfile")
    parser.add_argument("--bake-model", metavar="PATH",
                        help="copy this model folder into the image, MODEL_PATH pointing at it (the bake placement)")
    parser.add_argument("--variant", help="with --bake-model: bake the files of this variant (e.g. fp16)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from playbook.image import build, registry

    settings = build.cloud_settings() if args.cloud else build.local_settings() if not args.lint_only else None
    report = build.lint(build.render_dockerfile(settings or build.cloud_settings()))
    for finding in report.findings:
        print(f"hadolint {finding.get('code')} line {finding.get('line')}: {finding.get('message')}")
    print(f"lint: {'clean' if report.ok else 'findings above'}")
    if args.lint_only:
        return 0 if report.ok else 1
    built = build.build_image(settings, nocache=args.nocache)
    print(f"built {built.reference} ({built.image_id[:19]}) in {built.seconds:.1f} s, "
          f"{built.cached_steps}/{built.steps} steps from cache")
    print(build.check_platform(built.reference).explain())
    info = build.image_info(built.reference)
    print(f"torch {info.torch}, CUDA {info.cuda or 'none (CPU build)'}"
          + (f": needs a host driver for CUDA >= {info.min_cuda_version} (NVIDIA 580 series or newer for 13.0); "
             "registry.pin_spec sets the spec's min_cuda_version to it" if info.cuda else ""))
    sizes = build.size_report(built.reference, budget_gb=args.budget_gb)
    print(f"size {sizes.total_gb:.2f} GB (budget {sizes.budget_gb:g} GB)")
    for layer in sizes.layers:
        if layer.size_mb >= 0.5:
            print(f"  {layer.size_mb:9.1f} MB  {layer.created_by[:90]}")
    if args.bake_model:
        from playbook.image.bake import bake_model

        baked = bake_model(built.reference, args.bake_model, variant=args.variant)
        built = baked
        print(f"baked {baked.weights_bytes:,} bytes of weights into {baked.reference} in {baked.seconds:.1f} s; "
              f"MODEL_PATH={baked.model_path}")
    if args.push:
        pushed = registry.push(built.reference, args.registry)
        print(f"pushed {pushed.reference}")
    return 0
