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
from aurora_api.phases import Phase
from aurora_api.reasons import Reason
from aurora_api.status import NO_WINDOW, RollbackWindow, integer, moment, read_window, text, version
from aurora_api.times import parse_duration, rfc3339
from hooks.analysis import track_numbers
from hooks.baseline import Evidence, evidence_status, read_evidence


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
    evidence: Evidence | None = None  # against stable, over the rollout so far; None without a baseline


class Canary(NamedTuple):
    """The canary of a rollout in flight; NO_CANARY when there is none."""

    version: str = ""
    weight: int = 0
    step: int | None = None
    step_started: datetime | None = None
    started: datetime | None = None
    # The spec generation an inconclusive pause began at: a spec change resumes the rollout.
    paused_generation: int | None = None


class Drain(NamedTuple):
    """A canary taken out of traffic: its pods stay until the router stops sending to them."""

    version: str = ""
    since: datetime | None = None


NO_CANARY, NO_DRAIN = Canary(), Drain()


# Check, Canary, Drain and Rollout are NamedTuples: immutable like a frozen dataclass, and a sync
# replaces fields several times, which _replace does at a fraction of dataclasses.replace's cost.
class Rollout(NamedTuple):
    phase: Phase
    stable_version: str
    canary: Canary = NO_CANARY
    check: Check | None = None
    actions: dict[str, tuple[str, ...]] = {}  # never mutated: a new dict replaces it
    failed_version: str = ""
    drain: Drain = NO_DRAIN
    reason: str = ""
    message: str = ""
    window: RollbackWindow = NO_WINDOW


# Reading the previous status


def read_rollout(status: dict, initial_version: str) -> Rollout:
    """The rollout the previous status records; a status without a phase starts Stable at `initial_version`."""
    stable_version = version(status, "stableVersion") or initial_version
    try:
        phase = Phase(status.get("phase"))
    except (ValueError, TypeError):
        return Rollout(Phase.STABLE, stable_version, actions=read_actions(status))
    return Rollout(
        phase=phase,
        stable_version=stable_version,
        canary=read_canary(status),
        check=read_check(status.get("analysis")),
        actions=read_actions(status),
        failed_version=version(status, "failedVersion"),
        drain=Drain(version(status, "drainingVersion"), moment(status, "drainingSince")),
        reason=text(status, "reason"),
        message=text(status, "message"),
        window=read_window(status),
    )


def read_canary(status: dict) -> Canary:
    step, step_started = integer(status, "currentStep"), moment(status, "stepStartedAt")
    if step is None or step_started is None:
        # A step is its index and its start together; half of it restarts the step.
        step = step_started = None
    return Canary(
        version=version(status, "canaryVersion"),
        weight=integer(status, "canaryWeight", 0, 100) or 0,
        step=step,
        step_started=step_started,
        started=moment(status, "rolloutStartedAt"),
        paused_generation=integer(status, "pausedGeneration"),
    )


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
        evidence=read_evidence(analysis["evidence"]) if "evidence" in analysis else None,
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
    canary, window = r.canary, r.window
    fields = {
        "phase": str(r.phase),
        "stableVersion": r.stable_version,
        "canaryVersion": canary.version,
        "canaryWeight": canary.weight,
        "currentStep": canary.step,
        "stepStartedAt": canary.step_started and rfc3339(canary.step_started),
        "rolloutStartedAt": canary.started and rfc3339(canary.started),
        "analysis": r.check and check_fields(r.check),
        "actions": {k: list(v) for k, v in r.actions.items() if v},
        "failedVersion": r.failed_version,
        "drainingSince": r.drain.since and rfc3339(r.drain.since),
        "drainingVersion": r.drain.version,
        "pausedGeneration": canary.paused_generation,
        "reason": r.reason,
        "message": r.message,
        "previousVersion": window.previous_version,
        "rollbackWindowEndsAt": window.ends and rfc3339(window.ends),
        "trafficOnPrevious": window.traffic_on_previous or None,
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
        "evidence": c.evidence and evidence_status(c.evidence, (c.thresholds or {}).get("confidence")),
    }
    return {k: v for k, v in fields.items() if v not in (None, "")}


# Transitions: each names what it changes.


def start_canary(r: Rollout, version: str, now: datetime) -> Rollout:
    """A new canary at weight 0; whatever the last rollout left (a draining canary, a rollback
    window) is forgotten, except a rollback in flight, which finishes first."""
    r = r if r.window.traffic_on_previous else close_window(r)
    return r._replace(
        phase=Phase.PROGRESSING,
        canary=Canary(version, started=now),
        check=Check(),
        failed_version="",
        drain=NO_DRAIN,
        reason="",
        message=f"canary {version} starting",
    )


def end_canary(r: Rollout, phase: Phase, reason: str, message: str, now: datetime) -> Rollout:
    """Weight 0 at once; the canary's pods are removed once drained."""
    return r._replace(phase=phase, canary=NO_CANARY, drain=Drain(r.canary.version, now), reason=reason, message=message)


def roll_back(r: Rollout, reason: str, message: str, now: datetime) -> Rollout:
    """The canary failed or was aborted: its version is remembered as failed."""
    return end_canary(r, Phase.ROLLED_BACK, reason, message, now)._replace(failed_version=r.canary.version)


def revert(r: Rollout, message: str, now: datetime) -> Rollout:
    """spec.version went back to the stable version mid-rollout."""
    return end_canary(r, Phase.STABLE, Reason.VERSION_REVERTED, message, now)._replace(failed_version="")


def complete_promotion(r: Rollout, now: datetime, window_seconds: int) -> Rollout:
    """Stable runs the canary's version everywhere: it is the stable version now. The version it
    replaced stays ready on the previous track for the rollback window, when there is one."""
    promoted = r.canary.version
    done = end_canary(r, Phase.STABLE, Reason.PROMOTED, f"{promoted} promoted to stable", now)
    done = done._replace(stable_version=promoted, failed_version="")
    if window_seconds <= 0:
        return done
    ends = now + timedelta(seconds=window_seconds)
    return done._replace(window=r.window._replace(previous_version=r.stable_version, ends=ends))


def to_previous(r: Rollout, phase: Phase, reason: str, message: str) -> Rollout:
    """The previous version is the stable one again; all traffic goes to its ready pods at once
    while the stable track follows them back."""
    return r._replace(
        phase=phase,
        stable_version=r.window.previous_version,
        failed_version=r.stable_version if phase == Phase.ROLLED_BACK else "",
        window=r.window._replace(traffic_on_previous=True),
        reason=reason,
        message=message,
    )


def close_window(r: Rollout) -> Rollout:
    """No previous track any more: the window ended, or the stable track runs that version again."""
    return r._replace(window=NO_WINDOW)


def begin_promotion(r: Rollout, reason: str, message: str) -> Rollout:
    canary = r.canary._replace(paused_generation=None)
    return r._replace(phase=Phase.PROMOTING, canary=canary, reason=reason, message=message)


def enter_step(r: Rollout, steps: tuple[Step, ...], index: int, now: datetime) -> Rollout:
    """Start step `index` (its weight, its gate); past the last step, promote."""
    if steps and index >= len(steps):
        return begin_promotion(r, Reason.STEPS_COMPLETED, "all steps passed: promoting")
    step = steps[index] if steps else None
    gate = step is not None and step.is_gate
    weight = step.weight if step else r.canary.weight
    return r._replace(
        phase=Phase.PAUSED if gate else r.phase,
        canary=r.canary._replace(step=index, step_started=now, weight=weight),
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
    canary = r.canary._replace(paused_generation=generation)
    return r._replace(phase=Phase.PAUSED, canary=canary, reason=Reason.ANALYSIS_INCONCLUSIVE, message=message)


def resume(r: Rollout) -> Rollout:
    """Back to Progressing; an inconclusive pause's count starts again."""
    if r.canary.paused_generation is None:
        return r._replace(phase=Phase.PROGRESSING)
    check = r.check._replace(inconclusive=0) if r.check else None
    canary = r.canary._replace(paused_generation=None)
    return r._replace(phase=Phase.PROGRESSING, canary=canary, reason="", check=check)
