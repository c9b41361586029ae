"""Errors of the hook layer."""


class MalformedRequest(ValueError):
    """A request that is not a Metacontroller hook body: answered 400, so nothing changes."""
