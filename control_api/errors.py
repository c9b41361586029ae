"""Errors of the control API, each fixing its HTTP status (on the services' common base)."""

from aurora_runtime.errors import AppError, ConfigError, InvalidRequest, NotFound

__all__ = [
    "AppError",
    "ConfigError",
    "InvalidRequest",
    "NotFound",
    "Unauthorized",
    "ClusterUnavailable",
    "ClusterRefused",
    "Conflict",
]


class Unauthorized(AppError, status=401, reason="unauthorized"):
    """No API key, or a wrong one."""


class ClusterUnavailable(AppError, status=503, reason="cluster_unavailable"):
    """The Kubernetes API could not be reached in time."""


class ClusterRefused(AppError, status=502, reason="cluster_refused"):
    """The Kubernetes API answered with an error (e.g. our credentials are refused)."""


class Conflict(AppError, status=409, reason="conflict"):
    """The action makes no sense in the resource's current state (e.g. no rollback window is open)."""
