"""Programs the tests start: each in its own session, its output in a log, stopped by the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
import yaml

from tests.support.servers import free_port
from tests.support.tools import require_tool
from tests.support.waiting import wait_until


def venv_program(name: str) -> str:
    """A console script of this project, installed beside the running interpreter."""
    return str(Path(sys.executable).parent / name)


class Program:
    """One started program; `stop()` sends SIGTERM to its process group and waits."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None):
        self.argv, self.log, self.env = argv, log, {**os.environ, **(env or {})}
        self.url = ""  # where it answers, for those that serve
        self.process = self.spawn("w")

    def spawn(self, mode: str) -> subprocess.Popen:
        with open(self.log, mode) as out:
            return subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL the whole process group, as a node losing the pod would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def start_again(self) -> None:
        """The same program again, its output appended to the same log."""
        self.process = self.spawn("a")

    def wait_for(self, url: str, what: str, timeout: float = 60) -> None:
        """Wait until `url` answers 2xx; stop the program and say why if it never does."""

        def answers():
            if self.process.poll() is not None:
                raise AssertionError(f"{what} exited with {self.process.returncode}:\n{self.tail()}")
            return requests.get(url, timeout=2).ok

        try:
            wait_until(answers, timeout, what)
        except AssertionError:
            self.stop()
            raise

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_prometheus(config: dict, work: Path) -> Program:
    """A real Prometheus with `config`, its data and log in `work`; ready, its URL in `.url`."""
    port = free_port()
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    argv = [
        require_tool("prometheus"),
        f"--config.file={path}",
        f"--storage.tsdb.path={work / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    program = Program(argv, work / "prometheus.log")
    program.wait_for(f"http://127.0.0.1:{port}/-/ready", "Prometheus")
    program.url = f"http://127.0.0.1:{port}"
    return program


def start_hooks(prometheus_url: str, work: Path, env: dict | None = None, workers: int = 2) -> Program:
    """`aurora-hooks` under gunicorn (two workers unless asked) reading `prometheus_url`, its log
    in `work`; ready, its URL in `.url`. Canaries drain for 1 s, so that rollouts end quickly."""
    port = free_port()
    (work / "hooks-metrics").mkdir()
    settings = {
        "PROMETHEUS_MULTIPROC_DIR": str(work / "hooks-metrics"),
        "AURORA_PROMETHEUS_URL": prometheus_url,
        "AURORA_DRAIN_SECONDS": "1",
        **(env or {}),
    }
    argv = [venv_program("aurora-hooks"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    program = Program(argv, work / "hooks.log", settings)
    program.wait_for(f"http://127.0.0.1:{port}/healthz", "aurora-hooks")
    program.url = f"http://127.0.0.1:{port}"
    return program
