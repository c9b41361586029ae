"""An MLDeployment's status as it is read back: by the hook (its rollout's state), the control
API, the plugin, and the action guards. One set of field readers says what a field of the
wrong type becomes (absent), so that every reader of the status agrees."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from aurora_api.names import is_valid_version
from aurora_api.phases import Phase
from aurora_api.reasons import ConditionType, Reason
from aurora_api.times import parse_rfc3339

# Field readers: a missing field and one of the wrong type read the same.


def text(status: dict, key: str) -> str:
    value = status.get(key)
    return value if isinstance(value, str) else ""


def integer(status: dict, key: str, low: int = 0, high: int | None = None) -> int | None:
    value = status.get(key)
    if type(value) is not int or value < low or (high is not None and value > high):
        return None
    return value


def moment(status: dict, key: str) -> datetime | None:
    return parse_rfc3339(status.get(key))


def version(status: dict, key: str) -> str:
    """A recorded version, or '' when it is not one: a bogus value must never reach a Deployment."""
    value = status.get(key)
    return value if isinstance(value, str) and is_valid_version(value) else ""


class RollbackWindow(NamedTuple):
    """The version the last promotion replaced, kept ready until `ends` for aurora.dev/rollback."""

    previous_version: str = ""
    ends: datetime | None = None
    traffic_on_previous: bool = False  # a rollback to the previous version is under way

    def is_open(self, now: datetime) -> bool:
        """A rollback to the previous version can be asked for (and is not already under way)."""
        if not self.previous_version or self.traffic_on_previous or self.ends is None:
            return False
        return now < self.ends


NO_WINDOW = RollbackWindow()


def read_window(status: dict) -> RollbackWindow:
    """The rollback window; one without its version or its end is no window."""
    previous, ends = version(status, "previousVersion"), moment(status, "rollbackWindowEndsAt")
    if not previous or ends is None:
        return NO_WINDOW
    return RollbackWindow(previous, ends, status.get("trafficOnPrevious") is True)


@dataclass(frozen=True)
class DeploymentStatus:
    """What the clients and the action guards read of an MLDeployment's status."""

    phase: str = ""
    reason: str = ""
    message: str = ""
    desired_version: str = ""
    stable_version: str = ""
    canary_version: str = ""
    window: RollbackWindow = NO_WINDOW
    available: bool = False  # the Available condition is True
    invalid_spec: str = ""  # why the spec is refused (the InvalidSpec condition), '' when it is not
    current: bool = True  # the controller has seen the latest spec (observedGeneration)

    @property
    def is_settled(self) -> bool:
        """Stable, serving, and no canary left."""
        return self.phase == Phase.STABLE and not self.canary_version and self.available

    @property
    def is_promoted(self) -> bool:
        """Settled on the desired version by a promotion."""
        return self.is_settled and self.reason == Reason.PROMOTED and self.stable_version == self.desired_version


def read_status(mld: dict) -> DeploymentStatus:
    status = mld.get("status") if isinstance(mld.get("status"), dict) else {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    true = {c.get("type"): str(c.get("message") or c.get("reason")) for c in conditions if c.get("status") == "True"}
    generation = (mld.get("metadata") or {}).get("generation", 0)
    return DeploymentStatus(
        phase=text(status, "phase"),
        reason=text(status, "reason"),
        message=text(status, "message"),
        desired_version=text(status, "desiredVersion"),
        stable_version=text(status, "stableVersion"),
        canary_version=text(status, "canaryVersion"),
        window=read_window(status),
        available=ConditionType.AVAILABLE in true,
        invalid_spec=true.get(ConditionType.INVALID_SPEC, ""),
        current=status.get("observedGeneration", 0) >= generation,
    )
