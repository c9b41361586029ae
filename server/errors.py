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


class Unprocessable(AppError, status=422, reason="unprocessable"):
    """Valid input the model cannot give a usable answer for."""


class PayloadTooLarge(AppError, status=413, reason="too_large"):
    """The request body is over the limit."""


class ModelNotReady(AppError, status=503, reason="not_ready"):
    """The model is not loaded (or failed to load): nothing is predicted."""


class InjectedFault(AppError, status=500, reason="fault_injected"):
    """A failure injected on purpose (AURORA_FAULT_*), for analysis and alert drills."""
