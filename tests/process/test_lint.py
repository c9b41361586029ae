"""The code and scripts pass their linters: ruff for Python, shellcheck for shell."""

from __future__ import annotations

import subprocess

from tests.support.paths import ROOT
from tests.support.tools import require_tool

SHELL_SCRIPTS = [ROOT / ".ci" / "run", *sorted((ROOT / "scripts").iterdir()), *sorted((ROOT / "bench").iterdir())]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_python_passes_ruff_lint_and_format():
    ruff = require_tool("ruff")
    lint, fmt = run(ruff, "check", "."), run(ruff, "format", "--check", ".")
    assert lint.returncode == 0, lint.stdout
    assert fmt.returncode == 0, fmt.stdout


def test_shell_scripts_pass_shellcheck():
    shellcheck = require_tool("shellcheck")
    scripts = [
        str(path) for path in SHELL_SCRIPTS if path.is_file() and path.read_text().startswith("#!/usr/bin/env bash")
    ]
    assert scripts
    result = run(shellcheck, *scripts)
    assert result.returncode == 0, result.stdout
