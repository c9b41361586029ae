"""When an action means something, and when a wait is over: pure rules over an MLDeployment."""

from __future__ import annotations

from datetime import datetime

from aurora_api import actions
from aurora_api.actions import Action
from aurora_api.phases import Phase
from aurora_api.status import read_status

WAITS = ("stable", "promoted", "rolledback")


def refusal(action: str, mld: dict, now: datetime) -> str | None:
    """Why the action would do nothing in the MLDeployment's phase, or None when it acts."""
    return actions.refusal(Action(action), read_status(mld), now, name_of(mld))


def name_of(mld: dict) -> str:
    return f"{mld['metadata'].get('namespace')}/{mld['metadata']['name']}"


def wait_outcome(goal: str, mld: dict) -> tuple[bool, str | None]:
    """(done, failure): done when the goal is reached; a failure when it can no longer be."""
    status = read_status(mld)
    if not status.current:
        return False, None  # the controller has not seen the latest spec yet
    if goal == "stable":
        return status.is_settled, None
    if goal == "promoted":
        if status.is_promoted:
            return True, None
        return False, (f"rolled back: {status.message}" if status.phase == Phase.ROLLED_BACK else None)
    if goal == "rolledback":
        return status.phase == Phase.ROLLED_BACK, ("promoted instead" if status.is_promoted else None)
    raise ValueError(f"unknown goal {goal!r}; one of {', '.join(WAITS)}")
