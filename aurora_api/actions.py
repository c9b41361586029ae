"""What a user asks of an MLDeployment by annotation (aurora.dev/<action>=<any new value>), and
when each request acts: the one rule the hook applies and the clients explain beforehand."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import cached_property

from aurora_api.phases import ROLLING, Phase
from aurora_api.status import DeploymentStatus
from aurora_api.times import rfc3339


class Action(StrEnum):
    PROMOTE = "promote"  # end a rollout in progress by promoting its canary
    ABORT = "abort"  # end a rollout in progress by rolling its canary back
    RETRY = "retry"  # start a rolled-back canary again
    ROLLBACK = "rollback"  # send all traffic back to the version the last promotion replaced

    @cached_property
    def annotation(self) -> str:
        return f"aurora.dev/{self.value}"


# Every action, in a tuple: each sync walks them, and iterating an Enum class costs five times more.
ACTIONS = tuple(Action)


def refusal(action: Action, status: DeploymentStatus, now: datetime, name: str = "the deployment") -> str | None:
    """Why the action would do nothing now, or None when it acts."""
    if status.invalid_spec:
        # The hook changes nothing of a deployment whose spec it refuses, actions included.
        return f"{name} has an invalid spec: {status.invalid_spec}"
    phase = status.phase or "unknown"
    if action in (Action.PROMOTE, Action.ABORT) and phase not in ROLLING:
        return f"{action} acts on a rollout in progress; {name} is {phase}"
    if action is Action.RETRY and (phase != Phase.ROLLED_BACK or status.desired_version == status.stable_version):
        return f"retry starts a rolled-back canary again; {name} is {phase}"
    if action is Action.ROLLBACK:
        return rollback_refusal(status, now)
    return None


def rollback_refusal(status: DeploymentStatus, now: datetime) -> str | None:
    """Why aurora.dev/rollback would do nothing now, or None when a rollback window is open."""
    previous, ends = status.window.previous_version, status.window.ends
    if not previous or ends is None:
        return "no rollback window is open: no promotion replaced a version that is still kept"
    if status.window.traffic_on_previous:
        return f"a rollback to {previous} is already under way"
    if now >= ends:
        return f"the rollback window to {previous} ended at {rfc3339(ends)}"
    if status.phase != Phase.STABLE:
        return f"the deployment is {status.phase}: a rollback applies to a Stable one"
    return None
