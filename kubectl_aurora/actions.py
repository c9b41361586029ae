"""When an action means something, and when a wait is over: pure rules over an MLDeployment."""

from __future__ import annotations

from datetime import datetime

from control_api.info import rollback_refusal

ROLLING = ("Progressing", "Paused")
ACTIONS = ("promote", "abort", "retry", "rollback")
WAITS = ("stable", "promoted", "rolledback")


def refusal(action: str, mld: dict, now: datetime) -> str | None:
    """Why the action would do nothing in the MLDeployment's phase, or None when it acts."""
    status = mld.get("status") or {}
    phase = status.get("phase") or "unknown"
    if action in ("promote", "abort") and phase not in ROLLING:
        return f"{action} acts on a rollout in progress; {name_of(mld)} is {phase}"
    if action == "retry" and phase != "RolledBack":
        return f"retry starts a rolled-back canary again; {name_of(mld)} is {phase}"
    if action == "rollback":
        return rollback_refusal(mld, now)
    return None


def name_of(mld: dict) -> str:
    return f"{mld['metadata'].get('namespace')}/{mld['metadata']['name']}"


def wait_outcome(goal: str, mld: dict) -> tuple[bool, str | None]:
    """(done, failure): done when the goal is reached; a failure when it can no longer be."""
    status = mld.get("status") or {}
    if status.get("observedGeneration", 0) < mld["metadata"].get("generation", 0):
        return False, None  # the controller has not seen the latest spec yet
    phase, reason = status.get("phase"), status.get("reason")
    settled = phase == "Stable" and not status.get("canaryVersion") and available(status)
    if goal == "stable":
        return settled, None
    if goal == "promoted":
        if settled and reason == "Promoted" and status.get("stableVersion") == status.get("desiredVersion"):
            return True, None
        return False, (f"rolled back: {status.get('message', '')}" if phase == "RolledBack" else None)
    if goal == "rolledback":
        promoted = settled and reason == "Promoted" and status.get("stableVersion") == status.get("desiredVersion")
        return phase == "RolledBack", ("promoted instead" if promoted else None)
    raise ValueError(f"unknown goal {goal!r}; one of {', '.join(WAITS)}")


def available(status: dict) -> bool:
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in status.get("conditions") or [])
