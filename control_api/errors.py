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


class Unauthorized(AppError):
    status = 401
    reason = "unauthorized"


class ClusterUnavailable(AppError):
    """The Kubernetes API could not be reached in time."""

    status = 503
    reason = "cluster_unavailable"


class ClusterRefused(AppError):
    """The Kubernetes API answered with an error (e.g. our credentials are refused)."""

    status = 502
    reason = "cluster_refused"


class Conflict(AppError):
    """The action makes no sense in the resource's current state (e.g. no rollback window is open)."""

    status = 409
    reason = "conflict"
