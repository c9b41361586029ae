"""Polling until something the tests started is ready."""

from __future__ import annotations

import time

import requests


def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    """Poll `check` until it returns something truthy (a refused connection counts as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except requests.ConnectionError:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
