"""The base of every service's errors: each carries its HTTP status and a short reason, and is
rendered as {"error": message}. A service declares one in a line:

    class Conflict(AppError, status=409, reason="conflict"):
        \"\"\"When it is raised.\"\"\"
"""


class AppError(Exception):
    status = 500
    reason = "internal"

    def __init_subclass__(cls, status: int | None = None, reason: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.reason = reason or cls.reason

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(AppError, status=400, reason="invalid_request"):
    """The request itself is wrong: its shape, a field, a value."""


class NotFound(AppError, status=404, reason="not_found"):
    """What the request names does not exist."""


class ConfigError(Exception):
    """A setting that is missing or out of range."""
