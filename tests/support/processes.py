"""Programs the tests start: each in its own session, its output in a log, stopped by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.waiting import wait_until


def venv_program(name: str) -> str:
    """A console script of this project, installed beside the running interpreter."""
    return str(Path(sys.executable).parent / name)


class Program:
    """One started program; `stop()` sends SIGTERM to its process group and waits."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None):
        self.log = log
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                argv,
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

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
