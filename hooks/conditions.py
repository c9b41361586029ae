"""metav1.Condition lists whose lastTransitionTime moves only when a condition's status flips.

A status that changed a timestamp on every sync would cause a write, hence another
sync, forever; so time fields change only when what they record happens.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from aurora_api.times import parse_rfc3339, rfc3339


class Condition(NamedTuple):
    type: str
    status: bool
    reason: str
    message: str


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
