"""gunicorn, embedded: the production server behind `aurora-serve`, `aurora-hooks` and
`aurora-control-api`.

Choices measured with bench/serve (README, Performance):
- gthread workers keep client connections alive; two threads per worker keep the
  latency tail short (more threads mostly add GIL contention).
- SO_REUSEPORT gives each worker its own listening socket, so the kernel spreads
  connections evenly; with one shared socket a single worker often accepted nearly
  all of them and the other idled.
- The model is loaded once in the master, then frozen out of the garbage collector's
  reach, so workers share its pages and never rescan it.
"""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication
from prometheus_client import multiprocess


def pre_fork(server, worker) -> None:
    gc.freeze()


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that exited, so /metrics reports only live ones."""
    multiprocess.mark_process_dead(worker.pid)


def check_port_free(bind: str) -> None:
    """Refuse a port another server holds: with SO_REUSEPORT both would silently share it."""
    if bind.startswith(("unix:", "fd://")):
        return
    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Like the real listener: connections of a previous run in TIME_WAIT must not block a restart.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError as err:
            raise SystemExit(f"aurora-serve: cannot listen on {bind}: {err.strerror}") from None


class GunicornServer(BaseApplication):
    """Run the Flask app that `load_app` builds (once, in the master) under gunicorn."""

    def __init__(self, load_app: Callable[[], Flask], options: dict):
        self.load_app = load_app
        self.options = {
            "worker_class": "gthread",
            "reuse_port": True,
            "preload_app": True,
            "keepalive": 5,
            "timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            # The optional C parser (gunicorn_h1c) halved throughput at 64 connections here.
            "http_parser": "python",
            # The control socket (gunicorn 24+) would need a writable home; pods have none.
            "control_socket_disable": True,
            "pre_fork": pre_fork,
            "child_exit": child_exit,
            **options,
        }
        check_port_free(self.options["bind"])
        if self.options.get("grpc_bind"):
            check_port_free(self.options["grpc_bind"])
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorn releases may be absent
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.load_app()
