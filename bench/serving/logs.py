"""The driver's log lines on stderr, and the error that ends a run."""

from __future__ import annotations

import sys
import time


class BenchError(Exception):
    """A run cannot go on; the message says why."""


def log(message: str) -> None:
    print(f"[serve {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
