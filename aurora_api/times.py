"""Durations ("90s", "2m", "1h30m") and Kubernetes timestamps (RFC 3339, UTC, whole seconds)
as the API writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def parse_duration(text) -> int | None:
    """'90s', '2m', '1h30m' -> seconds; None when malformed."""
    return duration_seconds(text) if isinstance(text, str) and text else None


@lru_cache(maxsize=1024)
def duration_seconds(text: str) -> int | None:
    match = DURATION.fullmatch(text)
    if not match:
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@lru_cache(maxsize=256)
def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text) -> datetime | None:
    """Parse a Kubernetes timestamp; None for a missing or malformed one."""
    return timestamp(text) if isinstance(text, str) else None


@lru_cache(maxsize=4096)
def timestamp(text: str) -> datetime | None:
    # fromisoformat after a strict pattern: strptime cost more than the rest of a sync.
    if not RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
