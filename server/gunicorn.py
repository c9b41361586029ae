"""gunicorn, embedded: the production server behind `aurora-serve`."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

from server.app import create_app
from server.config import ServerConfig


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that exited, so /metrics reports only live ones."""
    GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)


class AuroraServer(BaseApplication):
    """Threaded workers keep client connections alive; the model is loaded once and shared."""

    def __init__(self, config: ServerConfig, options: dict):
        self.config_values = config
        self.options = {
            "worker_class": "gthread",
            "preload_app": True,
            "keepalive": 5,
            "timeout": 30,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "child_exit": child_exit,
            # The control socket (gunicorn 24+) would need a writable home; pods have none.
            "control_socket_disable": True,
            **options,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings of newer gunicorn releases may be absent
                self.cfg.set(key, value)

    def load(self):
        return create_app(self.config_values)
