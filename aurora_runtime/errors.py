"""The base of every service's errors: each carries its HTTP status and a short reason, and is
rendered as {"error": message}."""


class AppError(Exception):
    status = 500
    reason = "internal"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(AppError):
    status = 400
    reason = "invalid_request"


class NotFound(AppError):
    status = 404
    reason = "not_found"


class ConfigError(Exception):
    """A setting that is missing or out of range."""
