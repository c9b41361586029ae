"""The hook service's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_TRAINER_IMAGE = "ghcr.io/aurora-mlops/aurora:0.1.0"


@dataclass(frozen=True)
class HookConfig:
    # The image of training Jobs when an MLTrainingJob names none.
    trainer_image: str = DEFAULT_TRAINER_IMAGE
    # Where the models volume is mounted in every pod.
    models_mount: str = "/models"
    # Scratch space for the trainer (the root filesystem is read-only).
    scratch_size: str = "1Gi"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HookConfig:
        return cls(
            trainer_image=env.get("AURORA_TRAINER_IMAGE") or DEFAULT_TRAINER_IMAGE,
            models_mount=env.get("AURORA_MODELS_MOUNT") or "/models",
            scratch_size=env.get("AURORA_SCRATCH_SIZE") or "1Gi",
        )
