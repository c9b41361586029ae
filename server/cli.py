"""`aurora-serve`: run the inference server under gunicorn, or `aurora-serve check` the model.

The model is loaded once in the gunicorn master (preload) and shared by the
workers; 'latest' is therefore resolved once, at start. Metrics use
prometheus_client's multiprocess mode, so the folder is set and emptied before
prometheus_client is first imported.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import cache, partial

from aurora_runtime.multiproc import prepare_multiprocess_dir
from server.config import ServerConfig
from server.errors import ConfigError

log = logging.getLogger("aurora.serve")
DEFAULT_BIND = "0.0.0.0:8080"
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aurora-serve", description="Serve one model version (config from AURORA_* env)."
    )
    parser.add_argument("command", nargs="?", choices=["serve", "check"], default="serve")
    parser.add_argument("--bind", default=os.environ.get("AURORA_BIND", DEFAULT_BIND), help="HOST:PORT")
    parser.add_argument(
        "--grpc-bind",
        default=os.environ.get("AURORA_GRPC_BIND", ""),
        help="HOST:PORT for the Open Inference Protocol over gRPC as well (off when empty)",
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("AURORA_WORKERS", DEFAULT_WORKERS)))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("AURORA_THREADS", DEFAULT_THREADS)))
    parser.add_argument("--graceful-timeout", type=int, default=30, help="seconds in-flight requests get after SIGTERM")
    return parser.parse_args(argv)


def check(config: ServerConfig) -> int:
    """Verify the configured version as the init container does: checksums, loadable, features."""
    from server.model import ModelLoadError, ServedModel

    served = ServedModel(config.model_root, config.model, config.version)
    try:
        served.load()
    except ModelLoadError as err:
        print(f"aurora-serve check: {config.model}/{config.version} is NOT servable: {err}", file=sys.stderr)
        return 1
    print(
        f"aurora-serve check: {served.name}/{served.version} OK "
        f"({served.estimator_type}, {len(served.features)} features, checksums verified)"
    )
    return 0


def limit_native_threads() -> None:
    """One BLAS/OpenMP thread per worker: parallelism comes from workers and threads.

    Several workers each starting a thread per core oversubscribe the CPU and stretch
    the latency tail. Set before numpy is imported; explicit settings win.
    """
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def serve(args: argparse.Namespace, config: ServerConfig) -> int:
    limit_native_threads()
    prepare_multiprocess_dir()
    from aurora_runtime.gunicorn import GunicornServer
    from server.app import create_service
    from server.grpc_workers import grpc_hooks

    # Built once, in the master (gunicorn preloads the app), before the workers fork: they all
    # share the loaded model, and each worker's gRPC server serves the data plane built here.
    service = cache(partial(create_service, config))

    options = {
        "bind": args.bind,
        "workers": args.workers,
        "threads": args.threads,
        "graceful_timeout": args.graceful_timeout,
    }
    if args.grpc_bind:
        options["grpc_bind"] = args.grpc_bind
        options.update(grpc_hooks(service, args.grpc_bind, args.threads * 2, args.graceful_timeout - 1))
    GunicornServer(lambda: service().app, options).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    try:
        config = ServerConfig.from_env(os.environ)
    except ConfigError as err:
        print(f"aurora-serve: {err}", file=sys.stderr)
        return 2
    if args.command == "check":
        return check(config)
    return serve(args, config)


if __name__ == "__main__":
    sys.exit(main())
