"""The control API's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from control_api.errors import ConfigError


@dataclass(frozen=True)
class ApiConfig:
    api_key: str = field(repr=False)
    model_root: str = "/models"
    # Seconds to connect to and to read from the Kubernetes API.
    kube_timeout: tuple[float, float] = (2.0, 5.0)
    features: tuple[str, ...] = ("training", "progressive-delivery", "canary-analysis")

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ApiConfig:
        """Refuse to build without an API key: the API is never served open."""
        return cls(api_key=read_api_key(env), model_root=env.get("AURORA_MODEL_ROOT") or "/models")


def read_api_key(env: Mapping[str, str]) -> str:
    key = env.get("AURORA_API_KEY", "")
    path = env.get("AURORA_API_KEY_FILE", "")
    if not key and path:
        try:
            with open(path) as f:
                key = f.read().strip()
        except OSError as err:
            raise ConfigError(f"AURORA_API_KEY_FILE {path}: {err.strerror}") from None
    if len(key) < 16:
        raise ConfigError("no API key: set AURORA_API_KEY or AURORA_API_KEY_FILE (at least 16 characters)")
    return key
