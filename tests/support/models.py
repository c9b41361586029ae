"""Tiny models trained into a test's folder by aurora-train, in-process (no model binary is committed)."""

from __future__ import annotations

import contextlib
import io
import json

from trainer import cli as train_cli

MODEL = "diabetes"


def train(root, model=MODEL, *extra: str, estimator="ridge", dataset="builtin:diabetes") -> tuple[int, dict]:
    """Run aurora-train in-process; return its exit code and JSON summary."""
    args = ["--model", model, "--dataset", dataset, "--estimator", estimator, "--model-root", str(root), *extra]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = train_cli.main(args)
    return code, json.loads(out.getvalue())
