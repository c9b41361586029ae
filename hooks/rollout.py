"""An MLDeployment's rollout as typed values: its phase, its steps, its last check, its state.

The state is read once from the previous status by `read_rollout`: a field of the wrong type
(a status edited by hand, an older controller's) is dropped there and nowhere else. It
changes only through the named transitions below and is written back by `status_fields`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from aurora_api.actions import ACTIONS
from aurora_api.names import is_valid_version
from aurora_api.phases import Phase
from aurora_api.reasons import Reason
from aurora_api.times import parse_duration, parse_rfc3339, rfc3339
from hooks.analysis import track_numbers


@dataclass(frozen=True, slots=True)
class Step:
    """One of spec.canary.steps, parsed once: the one place that says what a step means."""

    weight: int  # the canary's weight during the step: the last setWeight so far, 0 before any
    pause_seconds: int  # the least time the step lasts (0 for a setWeight)
    is_gate: bool  # a pause without a duration: it waits for aurora.dev/promote
    mirror: bool = False  # the canary also gets a copy of stable's requests, answers discarded


def parse_steps(raw: list[dict]) -> tuple[Step, ...]:
    """Steps of a validated spec."""
    steps, weight = [], 0
    for step in raw:
        weight = step.get("setWeight", weight)
        mirror = step.get("mirror")
        pause = step.get("pause") if mirror is None else mirror
        is_gate = pause is not None and "duration" not in pause
        seconds = parse_duration(pause.get("duration")) if pause and not is_gate else 0
        steps.append(Step(weight, seconds or 0, is_gate, mirror is not None))
    return tuple(steps)


class Check(NamedTuple):
    """The rollout's analysis record (status.analysis): counters and the last check."""

    failed: int = 0  # failed checks in this rollout
    inconclusive: int = 0  # Inconclusive checks in a row
    time: datetime | None = None
    verdict: str = ""
    step: int = 0
    message: str = ""
    canary: dict | None = None
    stable: dict | None = None
    thresholds: dict | None = None


# Check and Rollout are NamedTuples: immutable like a frozen dataclass, and a sync replaces
# fields several times, which _replace does at a fraction of dataclasses.replace's cost.
class Rollout(NamedTuple):
    phase: Phase
    stable_version: str
    canary_version: str = ""
    canary_weight: int = 0
    step: int | None = None
    step_started: datetime | None = None
    started: datetime | None = None
    check: Check | None = None
    actions: dict[str, tuple[str, ...]] = {}  # never mutated: a new dict replaces it
    failed_version: str = ""
    draining_since: datetime | None = None
    draining_version: str = ""
    # The spec generation an inconclusive pause began at: a spec change resumes the rollout.
    paused_generation: int | None = None
    reason: str = ""
    message: str = ""
    # The rollback window: the version a promotion replaced, kept ready on the previous track.
    previous_version: str = ""
    window_ends: datetime | None = None
    # A rollback in flight: the stable Service sends all traffic to the previous version's pods
    # while the stable Deployment rolls back to it.
    traffic_on_previous: bool = False


# Reading the previous status


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


def read_rollout(status: dict, initial_version: str) -> Rollout:
    """The rollout the previous status records; a status without a phase starts Stable at `initial_version`."""
    try:
        phase = Phase(status.get("phase"))
    except (ValueError, TypeError):
        return Rollout(Phase.STABLE, version(status, "stableVersion") or initial_version, actions=read_actions(status))
    step, step_started = integer(status, "currentStep"), moment(status, "stepStartedAt")
    if step is None or step_started is None:
        # A step is its index and its start together; half of it restarts the step.
        step = step_started = None
    return Rollout(
        phase=phase,
        stable_version=version(status, "stableVersion") or initial_version,
        canary_version=version(status, "canaryVersion"),
        canary_weight=integer(status, "canaryWeight", 0, 100) or 0,
        step=step,
        step_started=step_started,
        started=moment(status, "rolloutStartedAt"),
        check=read_check(status.get("analysis")),
        actions=read_actions(status),
        failed_version=version(status, "failedVersion"),
        draining_since=moment(status, "drainingSince"),
        draining_version=version(status, "drainingVersion"),
        paused_generation=integer(status, "pausedGeneration"),
        reason=text(status, "reason"),
        message=text(status, "message"),
        **read_window(status),
    )


def read_window(status: dict) -> dict:
    """The rollback window's fields; a window without its version or its end is no window."""
    previous, ends = version(status, "previousVersion"), moment(status, "rollbackWindowEndsAt")
    if not previous or ends is None:
        return {}
    return {
        "previous_version": previous,
        "window_ends": ends,
        "traffic_on_previous": status.get("trafficOnPrevious") is True,
    }


def read_check(analysis) -> Check | None:
    if not isinstance(analysis, dict):
        return None
    counters = Check(
        failed=integer(analysis, "failedChecks") or 0, inconclusive=integer(analysis, "inconclusiveChecks") or 0
    )
    time = moment(analysis, "time")
    if time is None:
        # A check without its time cannot be placed: only the counters are kept.
        return counters
    thresholds = analysis["thresholds"] if isinstance(analysis.get("thresholds"), dict) else None
    return Check(
        failed=counters.failed,
        inconclusive=counters.inconclusive,
        time=time,
        verdict=text(analysis, "verdict"),
        step=integer(analysis, "step") or 0,
        message=text(analysis, "message"),
        canary=track_numbers(analysis["canary"]) if isinstance(analysis.get("canary"), dict) else None,
        stable=track_numbers(analysis["stable"]) if isinstance(analysis.get("stable"), dict) else None,
        thresholds=thresholds,
    )


def read_actions(status: dict) -> dict[str, tuple[str, ...]]:
    actions = status.get("actions") if isinstance(status.get("actions"), dict) else {}
    seen = {}
    for action in ACTIONS:
        values = actions.get(action)
        if isinstance(values, list):
            seen[action] = tuple(v for v in values if isinstance(v, str))
    return seen


# Writing it back


def status_fields(r: Rollout) -> dict:
    """The rollout's part of status: empty fields are left out, the canary's version and weight never."""
    fields = {
        "phase": str(r.phase),
        "stableVersion": r.stable_version,
        "canaryVersion": r.canary_version,
        "canaryWeight": r.canary_weight,
        "currentStep": r.step,
        "stepStartedAt": r.step_started and rfc3339(r.step_started),
        "rolloutStartedAt": r.started and rfc3339(r.started),
        "analysis": r.check and check_fields(r.check),
        "actions": {k: list(v) for k, v in r.actions.items() if v},
        "failedVersion": r.failed_version,
        "drainingSince": r.draining_since and rfc3339(r.draining_since),
        "drainingVersion": r.draining_version,
        "pausedGeneration": r.paused_generation,
        "reason": r.reason,
        "message": r.message,
        "previousVersion": r.previous_version,
        "rollbackWindowEndsAt": r.window_ends and rfc3339(r.window_ends),
        "trafficOnPrevious": r.traffic_on_previous or None,
    }
    kept = ("canaryVersion", "canaryWeight")
    return {k: v for k, v in fields.items() if v not in (None, "", {}) or k in kept}


def check_fields(c: Check) -> dict:
    fields = {
        "time": c.time and rfc3339(c.time),
        "verdict": c.verdict,
        "failedChecks": c.failed,
        "inconclusiveChecks": c.inconclusive or None,
        "step": c.step if c.time else None,
        "message": c.message,
        "canary": c.canary,
        "stable": c.stable,
        "thresholds": c.thresholds,
    }
    return {k: v for k, v in fields.items() if v not in (None, "")}


# Transitions


def start_canary(r: Rollout, version: str, now: datetime) -> Rollout:
    """A new canary at weight 0; whatever the last rollout left (a draining canary, a rollback
    window) is forgotten, except a rollback in flight, which finishes first."""
    r = r if r.traffic_on_previous else close_window(r)
    return r._replace(
        phase=Phase.PROGRESSING,
        canary_version=version,
        canary_weight=0,
        step=None,
        step_started=None,
        started=now,
        check=Check(),
        failed_version="",
        draining_since=None,
        draining_version="",
        paused_generation=None,
        reason="",
        message=f"canary {version} starting",
    )


def end_canary(r: Rollout, phase: Phase, reason: str, message: str, now: datetime) -> Rollout:
    """Weight 0 at once; the canary's pods are removed once drained."""
    return r._replace(
        phase=phase,
        canary_version="",
        canary_weight=0,
        step=None,
        step_started=None,
        started=None,
        draining_since=now,
        draining_version=r.canary_version,
        paused_generation=None,
        reason=reason,
        message=message,
    )


def roll_back(r: Rollout, reason: str, message: str, now: datetime) -> Rollout:
    """The canary failed or was aborted: its version is remembered as failed."""
    return end_canary(r, Phase.ROLLED_BACK, reason, message, now)._replace(failed_version=r.canary_version)


def revert(r: Rollout, message: str, now: datetime) -> Rollout:
    """spec.version went back to the stable version mid-rollout."""
    return end_canary(r, Phase.STABLE, Reason.VERSION_REVERTED, message, now)._replace(failed_version="")


def complete_promotion(r: Rollout, now: datetime, window_seconds: int) -> Rollout:
    """Stable runs the canary's version everywhere: it is the stable version now. The version it
    replaced stays ready on the previous track for the rollback window, when there is one."""
    done = end_canary(r, Phase.STABLE, Reason.PROMOTED, f"{r.canary_version} promoted to stable", now)
    done = done._replace(stable_version=r.canary_version, failed_version="")
    if window_seconds <= 0:
        return done
    return done._replace(previous_version=r.stable_version, window_ends=now + timedelta(seconds=window_seconds))


def is_window_open(r: Rollout, now: datetime) -> bool:
    """A rollback to the previous version can be asked for (and is not already under way)."""
    return bool(r.previous_version) and not r.traffic_on_previous and r.window_ends is not None and now < r.window_ends


def to_previous(r: Rollout, phase: Phase, reason: str, message: str) -> Rollout:
    """The previous version is the stable one again; all traffic goes to its ready pods at once
    while the stable track follows them back."""
    return r._replace(
        phase=phase,
        stable_version=r.previous_version,
        failed_version=r.stable_version if phase == Phase.ROLLED_BACK else "",
        traffic_on_previous=True,
        reason=reason,
        message=message,
    )


def close_window(r: Rollout) -> Rollout:
    """No previous track any more: the window ended, or the stable track runs that version again."""
    return r._replace(previous_version="", window_ends=None, traffic_on_previous=False)


def begin_promotion(r: Rollout, reason: str, message: str) -> Rollout:
    return r._replace(phase=Phase.PROMOTING, paused_generation=None, reason=reason, message=message)


def enter_step(r: Rollout, steps: tuple[Step, ...], index: int, now: datetime) -> Rollout:
    """Start step `index` (its weight, its gate); past the last step, promote."""
    if steps and index >= len(steps):
        return begin_promotion(r, Reason.STEPS_COMPLETED, "all steps passed: promoting")
    step = steps[index] if steps else None
    gate = step is not None and step.is_gate
    return r._replace(
        phase=Phase.PAUSED if gate else r.phase,
        step=index,
        step_started=now,
        canary_weight=step.weight if step else r.canary_weight,
        message=step_message(steps, index, gate),
    )


def step_message(steps: tuple[Step, ...], index: int, gate: bool) -> str:
    if not steps:
        return "no steps: promoting after the first passing check"
    detail = ": waiting for aurora.dev/promote" if gate else ""
    if index < len(steps) and steps[index].mirror:
        detail = ": the canary shadows stable (a copy of its requests, answers discarded)"
    return f"step {index + 1}/{len(steps)}{detail}"


def record_check(r: Rollout, check: Check) -> Rollout:
    return r._replace(check=check, message=check.message)


def pause_inconclusive(r: Rollout, message: str, generation: int) -> Rollout:
    return r._replace(
        phase=Phase.PAUSED, paused_generation=generation, reason=Reason.ANALYSIS_INCONCLUSIVE, message=message
    )


def resume(r: Rollout) -> Rollout:
    """Back to Progressing; an inconclusive pause's count starts again."""
    if r.paused_generation is None:
        return r._replace(phase=Phase.PROGRESSING)
    check = r.check._replace(inconclusive=0) if r.check else None
    return r._replace(phase=Phase.PROGRESSING, paused_generation=None, reason="", check=check)
