"""`aurora-hooks`: serve the Metacontroller webhooks under gunicorn.

The hooks need no Kubernetes credentials: Metacontroller sends everything they
decide on, and they only answer.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from aurora_runtime.multiproc import prepare_multiprocess_dir


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aurora-hooks", description="Serve Aurora's Metacontroller sync hooks.")
    parser.add_argument("--bind", default=os.environ.get("AURORA_BIND", "0.0.0.0:8080"), help="HOST:PORT")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("AURORA_WORKERS", 2)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("AURORA_THREADS", 4)))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    args = parse_args(argv)
    prepare_multiprocess_dir()
    from aurora_runtime.gunicorn import GunicornServer
    from hooks.app import create_app
    from hooks.config import HookConfig

    config = HookConfig.from_env()
    options = {"bind": args.bind, "workers": args.workers, "threads": args.threads, "graceful_timeout": 10}
    GunicornServer(lambda: create_app(config), options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
