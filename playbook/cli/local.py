"""`playbook local up|down|status|logs|env`: the local platform as a background process."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("local", help="run the local RunPod-like platform (job API, workers, scaler)")
    cmds = parser.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    up = cmds.add_parser("up", help="start the platform in the background and register an endpoint")
    from playbook.local.background.daemon import add_endpoint_options

    add_endpoint_options(up)
    up.set_defaults(func=run_up)
    down = cmds.add_parser("down", help="stop the platform and its workers")
    down.set_defaults(func=run_down)
    status = cmds.add_parser("status", help="address, endpoints, job counts and workers")
    status.add_argument("--json", action="store_true", help="print the raw status as JSON")
    status.set_defaults(func=run_status)
    logs = cmds.add_parser("logs", help="show the platform's and the workers' logs")
    logs.add_argument("--endpoint", help="only this endpoint's workers")
    logs.add_argument("--worker", help="only this worker")
    logs.add_argument("-n", "--lines", type=int, default=40, help="last N lines of each log (default 40)")
    logs.set_defaults(func=run_logs)
    env = cmds.add_parser("env", help="print export lines for the client examples (eval \"$(playbook local env)\")")
    env.add_argument("--endpoint", default="demo", help="endpoint id (default: demo, what `local up` registers)")
    env.add_argument("--as-runpod", action="store_true",
                     help="instead: the RUNPOD_* variables that point the runpod target at this platform (key, "
                          "API and job URLs, S3 endpoint and key pair), for a rehearsal of a RunPod run")
    env.set_defaults(func=run_env)


def run_up(args) -> int:
    from pathlib import Path

    from playbook.core.settings import model_dir
    from playbook.local.background import lifecycle
    from playbook.weights.demo_model import ensure_demo_model

    if args.strict and args.endpoint and not args.image:
        from playbook.core.errors import ConfigError

        raise ConfigError("--strict runs only images, as RunPod does: pass --image with a registry reference (e.g. "
                          "127.0.0.1:5000/playbook-worker@sha256:...), or --endpoint '' to start with no endpoint.")
    if args.endpoint and not args.handler and not args.image:  # the default endpoint runs the demo worker
        ensure_demo_model(model_dir(Path(args.volume).resolve()) if args.volume else None)

    info = lifecycle.up(args.endpoint, port=args.port, handler=args.handler, image=args.image, volume=args.volume,
                        workers_min=args.workers_min, workers_max=args.workers_max, idle_timeout_s=args.idle_timeout,
                        strict=args.strict)
    print(f"local platform running at {info['job_api_url']} (pid {info['pid']})")
    print("mode: strict (as RunPod: images from their registry only, crash-loop back-off, state kept in the state "
          "folder)" if args.strict else "mode: lenient default (a worker whose image the daemon lacks runs as a "
          "local process and its log says so; crash loops fail the queue; state lives in memory); --strict: as "
          "RunPod")
    print(f"endpoint {args.endpoint}: {info['job_api_url']}/{args.endpoint}/run")
    print(f"logs: {info['log_dir']}  (playbook local logs)")
    return 0


def run_down(args) -> int:
    from playbook.local.background import lifecycle

    print(lifecycle.down())
    return 0


def run_status(args) -> int:
    import json

    from playbook.local.background import lifecycle

    status = lifecycle.status()
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print(lifecycle.format_status(status))
    return 0


def run_logs(args) -> int:
    from playbook.local.background import lifecycle

    print(lifecycle.logs(args.endpoint, args.worker, args.lines))
    return 0


def run_env(args) -> int:
    """The three variables the examples in examples/ read, pointing at the running local platform, then
    its S3 endpoint for network volumes and the S3 key pair under the names the README gives RunPod's
    (RUNPOD_S3_ACCESS_KEY_ID, RUNPOD_S3_SECRET_ACCESS_KEY). The keys printed are the local platform's own
    loopback keys, never RunPod's."""
    import shlex

    from playbook.core.config import local_target
    from playbook.storage import volume

    if args.as_runpod:
        return print_as_runpod()
    target = local_target()
    print(f"export RUNPOD_API_KEY={shlex.quote(target.api_key.reveal())}")
    print(f"export RUNPOD_ENDPOINT_BASE_URL={shlex.quote(target.job_api_url)}")
    print(f"export RUNPOD_ENDPOINT_ID={shlex.quote(args.endpoint)}")
    example = volume.s3_endpoint_url(target, "EU-RO-1")
    print(f"# network volumes over S3: endpoint {example.removesuffix('eu-ro-1')}<data center, lower case> "
          f"(e.g. {example}), region = the data center, bucket = the volume id")
    print(f"export {volume.ACCESS_KEY_ENV}={volume.LOCAL_ACCESS_KEY}")
    print(f"export {volume.SECRET_KEY_ENV}={shlex.quote(target.api_key.reveal())}")
    return 0


def print_as_runpod() -> int:
    """`playbook local env --as-runpod`: export lines that make the runpod target (and the runpod SDK) talk
    to the running local platform; `--target runpod` then rehearses a RunPod run on loopback."""
    import shlex

    from playbook.core.config import local_target
    from playbook.local import runpod_variables

    for name, value in runpod_variables(local_target()).items():
        print(f"export {name}={shlex.quote(value)}")
    return 0
