"""The inference server's settings, read once from the environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from server.errors import ConfigError

# The previous track keeps a replaced version ready during an MLDeployment's rollback window.
TRACKS = ("stable", "canary", "previous")


@dataclass(frozen=True)
class ServerConfig:
    model_root: str
    model: str
    version: str = "latest"
    track: str = "stable"
    # Requests larger than this many bytes or rows get 413 before any parsing work.
    max_body_bytes: int = 4 * 1024 * 1024
    max_rows: int = 10_000
    # Drills only: the fraction of inference requests answered 500, and added latency.
    fault_error_rate: float = 0.0
    fault_latency_seconds: float = 0.0
    fault_latency_rate: float = 0.0
    # The version whose prediction histogram bounds this server uses (a canary: the stable
    # version's, so both tracks count predictions on one scale); empty: its own.
    prediction_buckets_from: str = ""

    @property
    def faults_enabled(self) -> bool:
        return self.fault_error_rate > 0 or (self.fault_latency_seconds > 0 and self.fault_latency_rate > 0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerConfig:
        """Build the settings from AURORA_* variables; raise ConfigError naming a bad one."""
        latency = number(env, "AURORA_FAULT_LATENCY_SECONDS", 0.0, low=0.0, high=60.0)
        config = cls(
            model_root=required(env, "AURORA_MODEL_ROOT"),
            model=required(env, "AURORA_MODEL"),
            version=env.get("AURORA_MODEL_VERSION", "latest") or "latest",
            track=env.get("AURORA_TRACK", "stable") or "stable",
            prediction_buckets_from=env.get("AURORA_PREDICTION_BUCKETS_FROM", ""),
            max_body_bytes=int(number(env, "AURORA_MAX_BODY_BYTES", cls.max_body_bytes, low=1024)),
            max_rows=int(number(env, "AURORA_MAX_ROWS", cls.max_rows, low=1)),
            fault_error_rate=number(env, "AURORA_FAULT_ERROR_RATE", 0.0, low=0.0, high=1.0),
            fault_latency_seconds=latency,
            # Latency set without a rate applies to every request.
            fault_latency_rate=number(env, "AURORA_FAULT_LATENCY_RATE", 1.0 if latency else 0.0, low=0.0, high=1.0),
        )
        if config.track not in TRACKS:
            raise ConfigError(f"AURORA_TRACK={config.track!r}: expected one of {', '.join(TRACKS)}")
        return config


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float = math.inf) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    return value
