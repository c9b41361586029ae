"""The gRPC front-end in every gunicorn worker of `aurora-serve`, beside its HTTP one."""

from __future__ import annotations

from collections.abc import Callable

from server.app import InferenceService


def grpc_hooks(service: Callable[[], InferenceService], bind: str, threads: int, grace: float) -> dict:
    """gunicorn hooks that run a gRPC server in every worker, beside its HTTP one.

    gRPC must not be started before a fork, so each worker starts its own after it; all bind
    the same port with SO_REUSEPORT. On a worker's exit the server stops accepting and lets
    the calls in flight finish, within the graceful timeout.
    """

    def post_fork(server, worker) -> None:
        from server import grpc_service

        built = service()  # the master's, inherited by the fork
        worker.aurora_grpc = grpc_service.start(built.plane, built.max_rows, bind, threads, built.max_message)

    def worker_exit(server, worker) -> None:
        grpc_server = getattr(worker, "aurora_grpc", None)
        if grpc_server is not None:
            grpc_server.stop(grace).wait()

    return {"post_fork": post_fork, "worker_exit": worker_exit}
