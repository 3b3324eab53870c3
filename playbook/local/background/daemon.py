"""The local platform as a background process: what `playbook local up` starts.

    python -m playbook.local.background.daemon --port 8765 --endpoint demo --workers-max 2

It records its address and key in the state file (``playbook.core.config.local_state_file()``), registers
one endpoint (default id ``demo`` running worker/handler.py), and on SIGTERM or SIGINT stops its
workers, then itself, and removes the state file.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m playbook.local.background.daemon")
    add_endpoint_options(parser)
    return parser.parse_args(argv)


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--endpoint", default="demo", help="id of the endpoint to register (default: demo)")
    parser.add_argument("--handler", help="worker handler file (default: worker/handler.py)")
    parser.add_argument("--image", help="Docker image for the endpoint (used when the local daemon has it)")
    parser.add_argument("--workers-min", type=int, default=0)
    parser.add_argument("--workers-max", type=int, default=2)
    parser.add_argument("--idle-timeout", type=float, default=5.0, help="seconds before an idle worker stops")
    parser.add_argument("--volume", help="folder standing in for /runpod-volume (default: build/volume)")
    parser.add_argument("--strict", action="store_true",
                        help="behave as RunPod where the default is lenient: workers run only their endpoint's "
                             "image, pulled from its registry (never a substitute process); crash loops back off; "
                             "endpoints, templates, volumes, bills, the key and jobs persist in the state folder")


def main(argv=None) -> int:
    import playbook.local as local
    from playbook.local import EndpointConfig

    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    platform = local.start(port=args.port, record=True, strict=args.strict or None)
    try:
        if args.endpoint and args.endpoint not in {e.id for e in platform.list_endpoints()}:  # not restored
            platform.create_endpoint(EndpointConfig(
                id=args.endpoint, name=args.endpoint, image=args.image,
                handler_path=Path(args.handler).resolve() if args.handler else None,
                workers_min=args.workers_min, workers_max=args.workers_max, idle_timeout_s=args.idle_timeout,
                volume_dir=Path(args.volume).resolve() if args.volume else None))
        logging.getLogger("playbook.local").info("local platform at %s (endpoint %s, %s)", platform.url, args.endpoint,
                                                 "strict" if platform.strict else "lenient default")
        while not done.wait(1.0):
            pass
    finally:
        platform.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
