"""The server's errors: one base carrying the HTTP status, rendered as {"error": message}."""


class AppError(Exception):
    status = 500
    reason = "internal"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(AppError):
    status = 400
    reason = "invalid_request"


class Unprocessable(AppError):
    """Valid input the model cannot give a usable answer for."""

    status = 422
    reason = "unprocessable"


class NotFound(AppError):
    status = 404
    reason = "not_found"


class PayloadTooLarge(AppError):
    status = 413
    reason = "too_large"


class ModelNotReady(AppError):
    status = 503
    reason = "not_ready"


class InjectedFault(AppError):
    status = 500
    reason = "fault_injected"


class ConfigError(Exception):
    """A server setting that is missing or out of range."""
