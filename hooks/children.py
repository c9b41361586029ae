"""Desired children that were not observed: creates Metacontroller has not made (yet).

Metacontroller creates a desired child that it does not observe, and when the API server
answers that an object of that name already exists, it logs that and moves on. That is what
happens when a parent is deleted and created again at once (`kubectl replace --force`, GitOps
tools): the old parent's children keep their names until the garbage collector removes them.
Their removal is no event for the new parent (they are not its children), so nothing would sync
it again; a hook that returns a child it does not observe therefore asks to be called again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aurora_api.times import parse_rfc3339

# The first retries come quickly (an old child is usually gone within seconds), later ones
# less often (a name held for good, by an object nobody owns, costs one sync per 30 s).
FIRST_RETRY_SECONDS = 2.0
LAST_RETRY_SECONDS = 30.0


def group_key(child: dict) -> str:
    """The request's key for a child's group: `<Kind>.<apiVersion>`."""
    return f"{child['kind']}.{child['apiVersion']}"


def missing_children(observed: Mapping[str, dict], desired: list[dict]) -> list[str]:
    """`Kind/name` of every desired child not observed; `observed` holds the children by group key, then name."""
    return [
        f"{child['kind']}/{child['metadata']['name']}"
        for child in desired
        if child["metadata"]["name"] not in observed.get(group_key(child), {})
    ]


def retry_seconds(parent: dict, now: datetime) -> float:
    """When to look again for a missing child: a tenth of the parent's age, within bounds."""
    created = parse_rfc3339((parent.get("metadata") or {}).get("creationTimestamp"))
    age = (now - created).total_seconds() if created else 0.0
    return min(LAST_RETRY_SECONDS, max(FIRST_RETRY_SECONDS, age / 10))


def sooner(resync: float | None, other: float | None) -> float | None:
    """The earlier of two optional resync delays."""
    delays = [d for d in (resync, other) if d]
    return min(delays) if delays else None
