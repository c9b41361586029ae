"""An MLDeployment's status as its clients read it: the control API, the plugin, and the hook's
own action guards. A field of the wrong type reads as absent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aurora_api.phases import Phase
from aurora_api.reasons import ConditionType, Reason
from aurora_api.times import parse_rfc3339


@dataclass(frozen=True)
class DeploymentStatus:
    phase: str = ""
    reason: str = ""
    message: str = ""
    desired_version: str = ""
    stable_version: str = ""
    canary_version: str = ""
    # The rollback window: the version the last promotion replaced, kept until window_ends.
    previous_version: str = ""
    window_ends: datetime | None = None
    traffic_on_previous: bool = False  # a rollback to the previous version is under way
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
    text = lambda key: status[key] if isinstance(status.get(key), str) else ""  # noqa: E731
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    true = {c.get("type"): str(c.get("message") or c.get("reason")) for c in conditions if c.get("status") == "True"}
    generation = (mld.get("metadata") or {}).get("generation", 0)
    return DeploymentStatus(
        phase=text("phase"),
        reason=text("reason"),
        message=text("message"),
        desired_version=text("desiredVersion"),
        stable_version=text("stableVersion"),
        canary_version=text("canaryVersion"),
        previous_version=text("previousVersion"),
        window_ends=parse_rfc3339(status.get("rollbackWindowEndsAt")),
        traffic_on_previous=status.get("trafficOnPrevious") is True,
        available=ConditionType.AVAILABLE in true,
        invalid_spec=true.get(ConditionType.INVALID_SPEC, ""),
        current=status.get("observedGeneration", 0) >= generation,
    )
