"""The YAML documents the tests read: a file's, and an overlay's as `kubectl kustomize` builds it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.support.paths import ROOT
from tests.support.tools import require_tool


def documents(path: Path) -> list[dict]:
    """The documents of a YAML file, empty ones left out."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def built(overlay: str) -> list[dict]:
    """The objects of manifests/overlays/<overlay>, as `kubectl kustomize` builds them."""
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "manifests" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]
