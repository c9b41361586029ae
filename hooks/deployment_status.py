"""An MLDeployment's status: the rollout's fields, the tracks as observed, and the conditions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aurora_api.phases import Phase
from aurora_api.reasons import ConditionType, Reason
from hooks.conditions import Condition, merge_conditions
from hooks.decisions import is_held_inconclusive, is_mirror_held
from hooks.observed import Observed, deployment_version
from hooks.rollout import Rollout, status_fields
from hooks.scaling import Scale
from hooks.version_source import Resolved

PHASES = frozenset(Phase)


def is_phase(value) -> bool:
    return isinstance(value, str) and value in PHASES


def track_status(deployment: dict | None) -> dict:
    """A track as observed: its version, pods and ready pods."""
    status = (deployment or {}).get("status") or {}
    counts = {k: status.get(k) if type(status.get(k)) is int else 0 for k in ("replicas", "readyReplicas")}
    return {"version": deployment_version(deployment), **counts} if deployment else counts


def compute_status(
    seen: Observed,
    r: Rollout,
    resolved: Resolved,
    now: datetime,
    scale: Scale | None = None,
    errors: Sequence[str] = (),
) -> dict:
    """The status for the rollout as decided; `errors` are the spec's, when it is refused."""
    stable, canary, previous_track = seen.tracks
    status = {**status_fields(r), **(scale.status if scale else {})}
    if resolved.version:
        status["desiredVersion"] = resolved.version
    status["stable"], status["canary"] = track_status(stable), track_status(canary)
    if r.window.previous_version or (previous_track and r.phase == Phase.PROMOTING):
        status["previous"] = track_status(previous_track)
    replicas = seen.spec.get("replicas")
    desired = replicas if type(replicas) is int else status["stable"]["replicas"]
    desired = scale.replicas if scale else desired
    status["ready"] = f"{status['stable']['readyReplicas']}/{desired}"
    # Asked for before and still not there: its create did not succeed.
    stable_missing = stable is None and is_phase(seen.status.get("phase"))
    found = conditions(r, status, errors, stable_missing) + [resolved.condition]
    status["conditions"] = merge_conditions(seen.status.get("conditions"), found, now=now, generation=seen.generation)
    return status


def waiting_status(seen: Observed, resolved: Resolved, now: datetime) -> dict:
    """Nothing runs and no version is known yet (a training run still to publish one)."""
    status = {"canaryVersion": "", "canaryWeight": 0, "stable": track_status(None), "canary": track_status(None)}
    status["ready"] = f"0/{seen.spec['replicas']}"
    available = Condition(ConditionType.AVAILABLE, False, Reason.NO_VERSION, resolved.condition.message)
    found = [
        available,
        Condition(ConditionType.PROGRESSING, False, Reason.NO_VERSION, ""),
        validity([]),
        resolved.condition,
    ]
    status["conditions"] = merge_conditions(seen.status.get("conditions"), found, now=now, generation=seen.generation)
    return status


def conditions(r: Rollout, status: dict, errors: Sequence[str], stable_missing: bool = False) -> list[Condition]:
    return [availability(r, status, stable_missing), progress(r), validity(errors)]


def availability(r: Rollout, status: dict, stable_missing: bool = False) -> Condition:
    stable, ready = status["stable"], status["ready"]
    if r.window.traffic_on_previous:
        ready_previous = status["previous"]["readyReplicas"] + stable["readyReplicas"] * (
            stable.get("version") == r.stable_version
        )
        message = f"rolling back: {ready_previous} ready pods of {r.stable_version} take all traffic"
        return Condition(ConditionType.AVAILABLE, ready_previous > 0, Reason.ROLLING_BACK, message)
    serving = (r.stable_version, r.canary.version) if r.phase == Phase.PROMOTING else (r.stable_version,)
    version = stable.get("version", "")
    if stable["readyReplicas"] > 0 and version in serving:
        return Condition(
            ConditionType.AVAILABLE, True, Reason.STABLE_READY, f"{ready} stable replicas ready ({version})"
        )
    running = f" running {version}, not {r.stable_version}" if version and version not in serving else ""
    absent = "; the stable Deployment is not created yet (an older object may still hold its name)"
    message = f"{ready} stable replicas ready{running}{absent if stable_missing else ''}"
    return Condition(ConditionType.AVAILABLE, False, Reason.STABLE_NOT_READY, message)


def progress(r: Rollout) -> Condition:
    rolling = r.phase in (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING)
    held = is_held_inconclusive(r) or is_mirror_held(r)
    reason = (r.reason if held else str(r.phase)) if rolling else (r.reason or Reason.NO_ROLLOUT)
    return Condition(ConditionType.PROGRESSING, rolling, reason, r.message)


def validity(errors: Sequence[str]) -> Condition:
    return Condition(
        ConditionType.INVALID_SPEC,
        bool(errors),
        Reason.INVALID_SPEC if errors else Reason.SPEC_VALID,
        "; ".join(errors) or "the spec is valid",
    )
