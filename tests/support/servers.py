"""aurora-serve: its configuration for the Flask test client, and the real thing under gunicorn on
127.0.0.1 as a user runs it; free ports for the other programs the tests start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from server.config import ServerConfig
from tests.support.waiting import wait_until


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_for(root, model, version="latest", **overrides) -> ServerConfig:
    """The configuration of a server of `model` in the store at `root`, for the Flask test client."""
    return ServerConfig(model_root=str(root), model=model, version=version, **overrides)


class Server:
    """aurora-serve as a user runs it, in its own process group."""

    def __init__(self, root: Path, tmp: Path, *args: str, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.multiproc = tmp / "metrics"
        self.log = open(tmp / "serve.log", "w+")
        script = os.path.join(os.path.dirname(sys.executable), "aurora-serve")
        environment = {
            **os.environ,
            "AURORA_MODEL_ROOT": str(root),
            "AURORA_MODEL": "diabetes",
            "AURORA_MODEL_VERSION": "latest",
            "PROMETHEUS_MULTIPROC_DIR": str(self.multiproc),
            **env,
        }
        self.process = subprocess.Popen(
            [script, "--bind", f"127.0.0.1:{self.port}", "--workers", "2", *args],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: requests.get(f"{self.url}/v2/health/ready", timeout=2).ok, 30, "readiness")

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            # gunicorn's graceful timeout is 30 s; leave it room.
            return self.process.wait(timeout=40)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.log.close()
