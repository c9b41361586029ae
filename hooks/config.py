"""The hook service's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_IMAGE = "ghcr.io/aurora-mlops/aurora:0.1.0"


@dataclass(frozen=True)
class HookConfig:
    # The image of training Jobs and inference pods when a resource names none.
    trainer_image: str = DEFAULT_IMAGE
    server_image: str = DEFAULT_IMAGE
    # Where the models volume is mounted in every pod.
    models_mount: str = "/models"
    # Scratch space for the trainer (the root filesystem is read-only).
    scratch_size: str = "1Gi"
    # Where canary analysis reads metrics; empty means no analysis can pass or fail.
    prometheus_url: str = ""
    # Seconds traffic-free canary pods are kept after their weight went to 0,
    # so the ingress controller stops routing to them before they terminate.
    drain_seconds: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> HookConfig:
        return cls(
            trainer_image=env.get("AURORA_TRAINER_IMAGE") or DEFAULT_IMAGE,
            server_image=env.get("AURORA_SERVER_IMAGE") or DEFAULT_IMAGE,
            models_mount=env.get("AURORA_MODELS_MOUNT") or "/models",
            scratch_size=env.get("AURORA_SCRATCH_SIZE") or "1Gi",
            prometheus_url=env.get("AURORA_PROMETHEUS_URL", ""),
            drain_seconds=int(env.get("AURORA_DRAIN_SECONDS") or 10),
        )
