"""Errors of the control API, each fixing its HTTP status (the base is the server's AppError)."""

from server.errors import AppError, ConfigError, InvalidRequest, NotFound

__all__ = [
    "AppError",
    "ConfigError",
    "InvalidRequest",
    "NotFound",
    "Unauthorized",
    "ClusterUnavailable",
    "ClusterRefused",
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
