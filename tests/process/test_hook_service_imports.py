"""What the hook service loads, seen from a fresh interpreter: neither numpy nor scikit-learn."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def test_the_hook_service_loads_neither_numpy_nor_scikit_learn():
    code = "import hooks.app, hooks.cli, sys; print(sorted({'numpy', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_hook_service_runs_without_importing_scikit_learn():
    probe = "import sys, hooks.app; hooks.app.create_app(); print(sorted(m for m in sys.modules if 'sklearn' in m))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
