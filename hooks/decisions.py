"""Every decision of one MLDeployment sync, one function each, applied in order by decide().

Each takes the rollout (hooks/rollout.py) and returns it changed through a named transition.
They read the Plan and what was observed; the clock comes in as `now` and Prometheus's numbers
as `observations` (None when they could not be read).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aurora_api.actions import ACTIONS, Action, refusal
from aurora_api.phases import ROLLING, Phase
from aurora_api.reasons import Reason
from aurora_api.status import DeploymentStatus
from hooks import analysis as checks
from hooks.baseline import Evidence
from hooks.observed import Observed, Tracks, deployment_version, is_rolled_out
from hooks.plan import Plan
from hooks.rollout import (
    NO_DRAIN,
    Check,
    Rollout,
    Step,
    begin_promotion,
    close_window,
    complete_promotion,
    enter_step,
    pause_inconclusive,
    read_rollout,
    record_check,
    resume,
    revert,
    roll_back,
    start_canary,
    to_previous,
)

# How many values of each action annotation are remembered (the newest ones).
SEEN_ACTIONS_KEPT = 20
THRESHOLDS = (
    "minRequests",
    "maxErrorRate",
    "maxLatencyP99Seconds",
    "failureLimit",
    "maxPredictionShift",
    "baseline",
    "maxErrorRateIncrease",
    "maxLatencyIncrease",
    "confidence",
)
# When a due check could not read Prometheus, the next attempt comes this much later.
METRICS_RETRY_SECONDS = 10.0
# An Ingress has no way to say whether its controller mirrors: a canary that gets no copies says so.
MIRROR_HINT = (
    "at a mirror step the canary gets only the copies the router makes, and an NGINX Ingress controller "
    "that ignores nginx.ingress.kubernetes.io/mirror-target (Traefik's does) makes none"
)


def decide(r: Rollout, plan: Plan, seen: Observed, observations: dict | None, now: datetime) -> Rollout:
    """Every decision of one sync, in order."""
    stable, canary, previous = seen.tracks
    r = follow_spec_version(r, plan, previous, now)
    r = apply_actions(r, seen.annotations, plan, previous, now)
    r = start_steps_when_ready(r, plan, canary, now)
    r = run_analysis(r, plan, observations, now)
    r = check_failure_limit(r, plan, now)
    r = apply_pause(r, plan)
    r = check_inconclusive_limit(r, plan)
    r = advance_steps(r, plan, now)
    r = hold_mirror(r, plan, now)
    r = finish_promotion(r, plan, stable, now)
    r = finish_rollback(r, plan, stable)
    r = end_window(r, now)
    return finish_drain(r, plan, now)


# Predicates


def is_analysis_due(r: Rollout, plan: Plan, now: datetime) -> bool:
    return r.phase in ROLLING and r.canary.step_started is not None and now >= next_analysis_at(r, plan)


def current_step(r: Rollout, plan: Plan) -> Step | None:
    """The step the rollout is at; None before the first or with no steps."""
    step = r.canary.step
    return plan.steps[step] if step is not None and step < len(plan.steps) else None


def is_at_gate(r: Rollout, plan: Plan) -> bool:
    step = current_step(r, plan)
    return step is not None and step.is_gate


def is_held_inconclusive(r: Rollout) -> bool:
    """Paused for inconclusive checks (apply_pause ends the hold when the spec changes)."""
    return r.phase == Phase.PAUSED and r.canary.paused_generation is not None


def is_mirror_held(r: Rollout) -> bool:
    """Paused at a mirror step the Gateways cannot carry out (hold_mirror ends the hold)."""
    return r.phase == Phase.PAUSED and r.reason == Reason.MIRROR_UNSUPPORTED


def is_at_mirror_step(r: Rollout, plan: Plan) -> bool:
    step = current_step(r, plan)
    return r.phase in ROLLING and r.canary.step_started is not None and step is not None and step.mirror


def is_mirroring(r: Rollout, plan: Plan) -> bool:
    """True while the rollout is at a mirror step of a ready canary, on a router that can mirror."""
    return bool(r.canary.version) and is_at_mirror_step(r, plan) and plan.mirror_blocker is None


def has_drained(r: Rollout, plan: Plan, now: datetime) -> bool:
    return r.drain.since is not None and now >= r.drain.since + timedelta(seconds=plan.drain_seconds)


def next_analysis_at(r: Rollout, plan: Plan) -> datetime:
    started = r.canary.step_started
    last = r.check.time if r.check and r.check.time else started
    return max(started, last) + timedelta(seconds=plan.interval_seconds)


# Decisions


def initial_rollout(previous: dict, version: str, tracks: Tracks) -> Rollout:
    """The rollout as the last status recorded it; without one, Stable at the running or wanted version."""
    r = read_rollout(previous, (tracks.stable and deployment_version(tracks.stable)) or version)
    return Rollout(Phase.STABLE, r.stable_version, actions=r.actions) if r.phase == Phase.FAILED else r


def follow_spec_version(r: Rollout, plan: Plan, previous: dict | None, now: datetime) -> Rollout:
    """A new spec.version starts (or restarts) a canary; going back to the stable version aborts."""
    wanted = plan.version
    if r.phase == Phase.PROMOTING:
        # A promotion in flight finishes first; a newer version starts from the new stable.
        return r
    if r.phase in ROLLING and wanted == r.stable_version:
        return revert(r, f"spec.version is back to {wanted}: rollout aborted", now)
    if r.phase == Phase.ROLLED_BACK and wanted == r.stable_version:
        return r._replace(phase=Phase.STABLE, failed_version="", reason=Reason.VERSION_REVERTED, message="")
    if r.phase == Phase.STABLE and wanted == r.window.previous_version and r.window.is_open(now):
        back = "the desired version is back"
        return roll_back_to_previous(r, Phase.STABLE, Reason.VERSION_REVERTED, back, previous)
    current = {
        Phase.PROGRESSING: r.canary.version,
        Phase.PAUSED: r.canary.version,
        Phase.ROLLED_BACK: r.failed_version,
        Phase.STABLE: r.stable_version,
    }
    return r if wanted == current[r.phase] else start_canary(r, wanted, now)


def apply_actions(r: Rollout, annotations: dict, plan: Plan, previous: dict | None, now: datetime) -> Rollout:
    """Act once on each new value of aurora.dev/promote|abort|retry|rollback; remember every value seen."""
    new = [a for a in ACTIONS if is_new_action(annotations.get(a.annotation), r.actions.get(a, ()))]
    if not new:
        return r
    seen = {action: list(r.actions.get(action, ())) for action in ACTIONS}
    for action in new:
        value = annotations[action.annotation]
        seen[action] = (seen[action] + [value])[-SEEN_ACTIONS_KEPT:]
        r = act(r, action, value, plan, previous, now)
    actions = {k: tuple(v) for k, v in seen.items() if v}
    return r if actions == r.actions else r._replace(actions=actions)


def is_new_action(value, seen: tuple[str, ...]) -> bool:
    return isinstance(value, str) and bool(value) and value not in seen


def act(r: Rollout, action: Action, value: str, plan: Plan, previous: dict | None, now: datetime) -> Rollout:
    if refusal(action, guarded_status(r, plan), now):
        return r
    if action is Action.ABORT:
        return roll_back(r, Reason.ABORTED, f"aborted by {action.annotation}={value}", now)
    if action is Action.PROMOTE:
        return begin_promotion(r, Reason.PROMOTED_BY_HAND, f"promoted by {action.annotation}={value}")
    if action is Action.RETRY:
        return start_canary(r, plan.version, now)
    asked = f"rolled back by {action.annotation}={value}"
    return roll_back_to_previous(r, Phase.ROLLED_BACK, Reason.ROLLBACK_REQUESTED, asked, previous)


def guarded_status(r: Rollout, plan: Plan) -> DeploymentStatus:
    """What the action guards read, as the rollout stands: the clients read the same from the status."""
    return DeploymentStatus(
        phase=r.phase, desired_version=plan.version, stable_version=r.stable_version, window=r.window
    )


def start_steps_when_ready(r: Rollout, plan: Plan, canary: dict | None, now: datetime) -> Rollout:
    """Step timers start once the canary is ready; a canary not ready by the deadline is rolled back."""
    if r.phase not in ROLLING or r.canary.step_started is not None:
        return r
    if is_rolled_out(canary, r.canary.version, plan.canary_replicas):
        return enter_step(r, plan.steps, 0, now)
    if now >= (r.canary.started or now) + timedelta(seconds=plan.deadline_seconds):
        ready = ready_replicas(canary)
        message = f"canary not ready after {plan.deadline_seconds}s ({ready}/{plan.canary_replicas} ready)"
        return roll_back(r, Reason.PROGRESS_DEADLINE_EXCEEDED, message, now)
    return r


def ready_replicas(deployment: dict | None) -> int:
    ready = ((deployment or {}).get("status") or {}).get("readyReplicas")
    return ready if type(ready) is int else 0


def run_analysis(r: Rollout, plan: Plan, observations: dict | None, now: datetime) -> Rollout:
    """When a check is due and metrics were read, record its verdict; failures and inconclusive runs count."""
    if not is_analysis_due(r, plan, now):
        return r
    if observations is None:
        # Held for inconclusive checks, the status keeps saying why.
        unread = "metrics could not be read: holding, with no promotion and no rollback on metrics"
        return r if is_held_inconclusive(r) else r._replace(message=unread)
    before = r.check or Check()
    if plan.analysis.get("baseline"):
        verdict, reasons, evidence = checks.judge_against_stable(
            observations, plan.analysis, before.evidence or Evidence()
        )
    else:
        (verdict, reasons), evidence = checks.judge(observations, plan.analysis), None
    failed = before.failed + (verdict == checks.FAIL)
    check = Check(
        failed=failed,
        inconclusive=before.inconclusive + 1 if verdict == checks.INCONCLUSIVE else 0,
        time=now,
        verdict=verdict,
        step=r.canary.step or 0,
        message=f"{'; '.join(reasons)}, {failed}/{plan.analysis['failureLimit']} checks failed",
        canary=checks.track_numbers(observations.get("canary")),
        stable=checks.track_numbers(observations.get("stable")),
        thresholds={k: plan.analysis[k] for k in THRESHOLDS if plan.analysis.get(k) is not None},
        evidence=evidence,
    )
    # Held for inconclusive checks, the status keeps saying why; the check's numbers are in analysis.
    recorded = record_check(r, check)
    return recorded._replace(message=r.message) if is_held_inconclusive(r) else recorded


def check_failure_limit(r: Rollout, plan: Plan, now: datetime) -> Rollout:
    """Evaluated in every rolling phase, before any gate or pause."""
    if r.phase in ROLLING and r.check and r.check.failed >= plan.analysis["failureLimit"]:
        return roll_back(r, failure_reason(r.check, plan), r.check.message, now)
    return r


def failure_reason(check: Check, plan: Plan) -> Reason:
    """Against stable, a rollback the evidence decided says so; ceilings and shifts say AnalysisFailed."""
    if check.evidence and checks.excess_failures(check.evidence, plan.analysis):
        return Reason.WORSE_THAN_STABLE
    return Reason.ANALYSIS_FAILED


def apply_pause(r: Rollout, plan: Plan) -> Rollout:
    """spec.paused holds a rolling canary where it is; unpausing resumes, unless at a gate or held for
    inconclusive checks (a spec change ends that hold)."""
    if is_held_inconclusive(r) and r.canary.paused_generation != plan.generation:
        r = resume(r)
    if r.phase == Phase.PROGRESSING and plan.paused:
        return r._replace(phase=Phase.PAUSED)
    held = is_at_gate(r, plan) or is_held_inconclusive(r) or is_mirror_held(r)
    if r.phase == Phase.PAUSED and not plan.paused and not held:
        return resume(r)
    return r


def check_inconclusive_limit(r: Rollout, plan: Plan) -> Rollout:
    """Too many inconclusive checks in a row: pause, and say why, rather than wait forever."""
    limit = plan.analysis["maxInconclusive"]
    if r.phase != Phase.PROGRESSING or not r.check or r.check.inconclusive < limit:
        return r
    requests = (r.check.canary or {}).get("requests", 0)
    message = (
        f"{r.check.inconclusive} checks in a row were inconclusive (canary served {requests:g} requests "
        f"< minRequests {plan.analysis['minRequests']}): waiting for aurora.dev/promote, aurora.dev/abort "
        "or a spec change"
    )
    if is_at_mirror_step(r, plan):
        message += f"; {MIRROR_HINT}"
    return pause_inconclusive(r, message, plan.generation)


def advance_steps(r: Rollout, plan: Plan, now: datetime) -> Rollout:
    """Move to the next step when this one's time is up and a check at this step passed."""
    started = r.canary.step_started
    if r.phase != Phase.PROGRESSING or started is None or plan.paused:
        return r
    step = current_step(r, plan)
    pause = step.pause_seconds if step else 0
    check = r.check or Check()
    passed = check.verdict == checks.PASS and check.step == r.canary.step and check.time >= started
    if now < started + timedelta(seconds=pause) or not passed:
        return r
    if not plan.steps:
        return begin_promotion(r, Reason.ANALYSIS_PASSED, "the check passed: promoting")
    return enter_step(r, plan.steps, r.canary.step + 1, now)


def hold_mirror(r: Rollout, plan: Plan, now: datetime) -> Rollout:
    """A mirror step holds, saying why, while the Gateways cannot mirror; once they can, the step
    starts over (its time counts from the first copied request)."""
    at_mirror = is_at_mirror_step(r, plan)
    if at_mirror and plan.mirror_blocker and r.phase == Phase.PROGRESSING:
        return r._replace(phase=Phase.PAUSED, reason=Reason.MIRROR_UNSUPPORTED, message=plan.mirror_blocker)
    if not is_mirror_held(r):
        return r
    if at_mirror and plan.mirror_blocker:
        return r._replace(message=plan.mirror_blocker)
    check = r.check._replace(inconclusive=0) if r.check else None
    r = r._replace(phase=Phase.PROGRESSING, reason="", check=check)
    return enter_step(r, plan.steps, r.canary.step, now) if at_mirror else r


def finish_promotion(r: Rollout, plan: Plan, stable: dict | None, now: datetime) -> Rollout:
    """Once stable runs the canary's version on every replica, the canary's weight goes to 0."""
    if r.phase == Phase.PROMOTING and is_rolled_out(stable, r.canary.version, plan.replicas):
        return complete_promotion(r, now, plan.window_seconds)
    return r


def roll_back_to_previous(r: Rollout, phase: Phase, reason: str, why: str, previous: dict | None) -> Rollout:
    """Back to the previous version: at once onto the ready pods of its track (the stable track's
    pods join them as they roll back); with none ready, the stable track rolls back pod by pod,
    never sending traffic to pods not ready."""
    version = r.window.previous_version
    ready = ready_replicas(previous) if deployment_version(previous or {}) == version else 0
    if ready > 0:
        return to_previous(r, phase, reason, f"{why}: all traffic on the {ready} ready pods of {version}")
    message = f"{why}: the previous track of {version} has no ready pod, the stable track rolls back"
    return close_window(to_previous(r, phase, reason, message))


def finish_rollback(r: Rollout, plan: Plan, stable: dict | None) -> Rollout:
    """Once the stable track runs the previous version everywhere, traffic goes back to it and
    the previous track is removed."""
    if r.window.traffic_on_previous and is_rolled_out(stable, r.stable_version, plan.replicas):
        return close_window(r)
    return r


def end_window(r: Rollout, now: datetime) -> Rollout:
    """The rollback window is over: the previous track is removed."""
    window = r.window
    if window.previous_version and not window.traffic_on_previous and window.ends and now >= window.ends:
        return close_window(r)
    return r


def finish_drain(r: Rollout, plan: Plan, now: datetime) -> Rollout:
    return r._replace(drain=NO_DRAIN) if has_drained(r, plan, now) else r


# When to look again


def next_wakeup(r: Rollout, plan: Plan, now: datetime) -> float | None:
    """Seconds until the next thing the hook waits for: a check, a pause's end, the deadline, a drain's end."""
    moments = []
    if r.drain.since:
        moments.append(r.drain.since + timedelta(seconds=plan.drain_seconds))
    if r.window.ends and not r.window.traffic_on_previous:
        moments.append(r.window.ends)
    started = r.canary.step_started
    if r.phase in ROLLING and started:
        check_at = next_analysis_at(r, plan)
        # A check already due could not read the metrics: try again soon, without hammering.
        moments.append(check_at if check_at > now else now + timedelta(seconds=METRICS_RETRY_SECONDS))
        step = current_step(r, plan)
        if step and step.pause_seconds:
            moments.append(started + timedelta(seconds=step.pause_seconds))
    elif r.phase in ROLLING:
        moments.append((r.canary.started or now) + timedelta(seconds=plan.deadline_seconds))
    future = [(m - now).total_seconds() for m in moments if m > now]
    return min(future) if future else None
