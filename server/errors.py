"""The server's errors, on the services' common base (aurora_runtime.errors)."""

from aurora_runtime.errors import AppError, ConfigError, InvalidRequest, NotFound

__all__ = [
    "AppError",
    "ConfigError",
    "InvalidRequest",
    "NotFound",
    "Unprocessable",
    "PayloadTooLarge",
    "ModelNotReady",
    "InjectedFault",
]


class Unprocessable(AppError):
    """Valid input the model cannot give a usable answer for."""

    status = 422
    reason = "unprocessable"


class PayloadTooLarge(AppError):
    status = 413
    reason = "too_large"


class ModelNotReady(AppError):
    status = 503
    reason = "not_ready"


class InjectedFault(AppError):
    status = 500
    reason = "fault_injected"
