"""prometheus_client's multiprocess folder, set up before prometheus_client is first imported."""

from __future__ import annotations

import os
import shutil
import tempfile


def prepare_multiprocess_dir() -> str:
    """Use PROMETHEUS_MULTIPROC_DIR (emptied: old counts must not carry over) or a fresh temp folder."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="aurora-metrics-")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder
