"""metav1.Condition lists whose lastTransitionTime moves only when a condition's status flips.

A status that changed a timestamp on every sync would cause a write, hence another
sync, forever; so time fields change only when what they record happens.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


class Condition(NamedTuple):
    type: str
    status: bool
    reason: str
    message: str


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


def merge_conditions(previous: list | None, desired: list[Condition], *, now: datetime, generation: int) -> list:
    """Render `desired` as metav1.Conditions, keeping each one's transition time unless its status flips."""
    # A previous list of any shape (a status edited by hand) only loses its transition times.
    listed = previous if isinstance(previous, list) else []
    earlier = {c["type"]: c for c in listed if isinstance(c, dict) and isinstance(c.get("type"), str)}
    merged = []
    for condition in desired:
        status = "True" if condition.status else "False"
        before = earlier.get(condition.type, {})
        unchanged = before.get("status") == status and parse_rfc3339(before.get("lastTransitionTime"))
        merged.append(
            {
                "type": condition.type,
                "status": status,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": before["lastTransitionTime"] if unchanged else rfc3339(now),
            }
        )
    return merged
