"""The programs the tests run for real (scripts/install-tools installs them)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest


def require_tool(name: str) -> str:
    """Return a tool's path; skip without it locally, but fail under CI=true (no silent skips)."""
    # Tools installed into the test environment sit beside its interpreter.
    path = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI but is not installed")
    pytest.skip(f"{name} is not installed")
