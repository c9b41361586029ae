"""Versions published into a model store under test, at a fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trainer import store

NOW = datetime(2026, 11, 26, 10, 15, 0, tzinfo=UTC)


def write_model(payload: bytes = b"model-bytes"):
    """A writer of a model file holding `payload`, as the trainer passes one to publish."""

    def write(folder: Path) -> None:
        (folder / store.MODEL_FILE).write_bytes(payload)

    return write


def publish(root, model="m", *, version=None, now=NOW, promote=True, payload=b"model-bytes") -> str:
    """Publish a version of `model` into the store at `root`; its name."""
    return store.ModelStore(root).publish(
        model, {"note": "test"}, write_model(payload), version=version, now=now, promote=promote
    )
