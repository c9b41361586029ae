"""Sync hook of the MLDeployment controller (aurora.dev/v1alpha1): progressive delivery of model versions.

Request and response are Metacontroller's CompositeController hook bodies
(https://metacontroller.github.io/metacontroller/api/compositecontroller.html).
Everything is pure: the clock comes in as `now`, Prometheus's numbers as `observations`
(None when they could not be read), and the rollout's state is read from the previous
status (hooks/rollout.py). sync() applies one decision after another to that state, in a
fixed order, then builds the children and the status from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aurora_api import labels as label
from aurora_api.actions import ACTIONS, Action, refusal
from aurora_api.names import is_valid_model_name, is_valid_version
from aurora_api.phases import ROLLING, Phase
from aurora_api.reasons import ConditionType, Reason
from aurora_api.status import DeploymentStatus
from aurora_api.times import parse_duration
from hooks import analysis as checks
from hooks import inference_objects as objects
from hooks.children import missing_children, retry_seconds, sooner
from hooks.conditions import Condition, merge_conditions
from hooks.config import HookConfig
from hooks.gateway_features import GATEWAY_CLASSES, mirror_blocker
from hooks.request import observed_group, parent_parts
from hooks.rollout import (
    Check,
    Rollout,
    Step,
    begin_promotion,
    close_window,
    complete_promotion,
    enter_step,
    is_window_open,
    parse_steps,
    pause_inconclusive,
    read_rollout,
    record_check,
    resume,
    revert,
    roll_back,
    start_canary,
    status_fields,
    to_previous,
)
from hooks.routes import (
    GATEWAY_API,
    INGRESS_KEY,
    ROUTE_KEY,
    Split,
    header_of,
    kept_copy,
    route_children,
    route_errors,
    router_of,
)
from hooks.scaling import Scale, scaling_errors, stable_scale
from hooks.shapes import NUMBER, shape_errors
from hooks.version_source import Resolved, related_rules, resolve_version, version_source_errors

DEPLOYMENT_KEY, SERVICE_KEY = "Deployment.apps/v1", "Service.v1"
AUTOSCALER_KEY = "HorizontalPodAutoscaler.autoscaling/v2"
CHILD_KEYS = (DEPLOYMENT_KEY, SERVICE_KEY, INGRESS_KEY, ROUTE_KEY, AUTOSCALER_KEY)
# How many values of each action annotation are remembered (the newest ones).
SEEN_ACTIONS_KEPT = 20
DEFAULT_STEPS = [{"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 50}, {"pause": {"duration": "120s"}}]
DEFAULT_ANALYSIS = {
    "interval": "30s",
    "minRequests": 50,
    "maxErrorRate": 0.01,
    "maxLatencyP99Seconds": 0.5,
    "failureLimit": 2,
    "maxInconclusive": 10,
}
THRESHOLDS = ("minRequests", "maxErrorRate", "maxLatencyP99Seconds", "failureLimit", "maxPredictionShift")
# When a due check could not read Prometheus, the next attempt comes this much later.
METRICS_RETRY_SECONDS = 10.0
# Child Services are named <name>-stable / <name>-canary and must stay DNS-1035 labels (63).
MAX_NAME = 56
# An Ingress has no way to say whether its controller mirrors: a canary that gets no copies says so.
MIRROR_HINT = (
    "at a mirror step the canary gets only the copies the router makes, and an NGINX Ingress controller "
    "that ignores nginx.ingress.kubernetes.io/mirror-target (Traefik's does) makes none"
)

SPEC_SHAPE = {
    "model": str,
    "version": str,
    "versionFrom": {"trainingJob": str},
    "rollbackWindow": str,
    "replicas": int,
    "image": str,
    "resources": dict,
    "storage": {"claimName": str},
    "ingress": {"host": str, "path": str, "className": str},
    "traffic": {
        "router": str,
        "gatewayAPI": {"parentRefs": [dict], "hostnames": [str], "path": str},
        "canaryHeader": {"name": str, "value": str},
    },
    "autoscaling": {"minReplicas": int, "maxReplicas": int, "targetCPUUtilizationPercentage": int},
    "paused": bool,
    "canary": {
        "replicas": int,
        "progressDeadlineSeconds": int,
        "steps": [dict],
        "analysis": {
            "interval": str,
            "minRequests": int,
            "maxErrorRate": NUMBER,
            "maxLatencyP99Seconds": NUMBER,
            "failureLimit": int,
            "maxInconclusive": int,
            "maxPredictionShift": NUMBER,
        },
    },
}


@dataclass(frozen=True)
class Plan:
    """What a valid spec asks of the rollout, read once per sync."""

    version: str
    replicas: int
    canary_replicas: int
    deadline_seconds: int
    steps: tuple[Step, ...]
    analysis: dict
    interval_seconds: int
    paused: bool
    generation: int
    window_seconds: int
    # Why the router cannot mirror requests (a mirror step then holds); None when it can.
    mirror_blocker: str | None = None


def new_plan(spec: dict, generation: int, version: str, replicas: int, mirror_blocker: str | None = None) -> Plan:
    canary = spec["canary"]
    return Plan(
        version=version,
        replicas=replicas,
        canary_replicas=canary["replicas"],
        deadline_seconds=canary["progressDeadlineSeconds"],
        steps=parse_steps(canary["steps"]),
        analysis=canary["analysis"],
        interval_seconds=parse_duration(canary["analysis"]["interval"]),
        paused=spec["paused"],
        generation=generation,
        window_seconds=parse_duration(spec["rollbackWindow"]),
        mirror_blocker=mirror_blocker,
    )


# Predicates


def is_analysis_due(r: Rollout, plan: Plan, now: datetime) -> bool:
    return r.phase in ROLLING and r.step_started is not None and now >= next_analysis_at(r, plan)


def is_rolled_out(deployment: dict | None, version: str, replicas: int) -> bool:
    """True when a Deployment runs `version` on all its replicas, all ready and updated."""
    if not deployment or deployment_version(deployment) != version:
        return False
    status = deployment.get("status") or {}
    current = status.get("observedGeneration", 0) >= deployment.get("metadata", {}).get("generation", 0)
    return current and all(
        status.get(k, 0) >= replicas for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
    )


def current_step(r: Rollout, plan: Plan) -> Step | None:
    """The step the rollout is at; None before the first or with no steps."""
    return plan.steps[r.step] if r.step is not None and r.step < len(plan.steps) else None


def is_at_gate(r: Rollout, plan: Plan) -> bool:
    step = current_step(r, plan)
    return step is not None and step.is_gate


def is_held_inconclusive(r: Rollout) -> bool:
    """Paused for inconclusive checks (apply_pause ends the hold when the spec changes)."""
    return r.phase == Phase.PAUSED and r.paused_generation is not None


def is_mirror_held(r: Rollout) -> bool:
    """Paused at a mirror step the Gateways cannot carry out (hold_mirror ends the hold)."""
    return r.phase == Phase.PAUSED and r.reason == Reason.MIRROR_UNSUPPORTED


def is_at_mirror_step(r: Rollout, plan: Plan) -> bool:
    step = current_step(r, plan)
    return r.phase in ROLLING and r.step_started is not None and step is not None and step.mirror


PHASES = frozenset(Phase)


def is_phase(value) -> bool:
    return isinstance(value, str) and value in PHASES


def has_drained(r: Rollout, config: HookConfig, now: datetime) -> bool:
    return r.draining_since is not None and now >= r.draining_since + timedelta(seconds=config.drain_seconds)


# Reading the request


def read_parent(request: dict) -> tuple[dict, dict, dict, list[str]]:
    """Parent, spec with defaults (as written if ill-typed), previous status as written, and the spec's type errors."""
    parent, spec, status = parent_parts(request)
    wrong_types = shape_errors(spec, SPEC_SHAPE, "spec")
    return parent, spec if wrong_types else with_defaults(spec), status, wrong_types


def with_defaults(spec: dict) -> dict:
    canary = {"replicas": 1, "progressDeadlineSeconds": 600, "steps": DEFAULT_STEPS, **(spec.get("canary") or {})}
    canary["analysis"] = {**DEFAULT_ANALYSIS, **((spec.get("canary") or {}).get("analysis") or {})}
    merged = {"replicas": 2, "paused": False, "rollbackWindow": "10m", **spec, "canary": canary}
    merged["storage"] = {"claimName": "aurora-models", **(spec.get("storage") or {})}
    if isinstance(spec.get("autoscaling"), dict):
        merged["autoscaling"] = {"targetCPUUtilizationPercentage": 70, **spec["autoscaling"]}
    return merged


def observed(request: dict, key: str) -> dict:
    return observed_group(request, key)


def observed_tracks(request: dict, parent: dict) -> tuple[dict | None, dict | None, dict | None]:
    """The stable, canary and previous Deployments, as observed."""
    deployments = observed(request, DEPLOYMENT_KEY)
    return tuple(deployments.get(objects.child_name(parent, track)) for track in objects.TRACKS)


def deployment_version(deployment: dict) -> str:
    labels = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    version = labels.get(label.VERSION, "")
    return version if isinstance(version, str) else ""


def track_status(deployment: dict | None) -> dict:
    """A track as observed: its version, pods and ready pods."""
    status = (deployment or {}).get("status") or {}
    counts = {k: status.get(k) if type(status.get(k)) is int else 0 for k in ("replicas", "readyReplicas")}
    return {"version": deployment_version(deployment), **counts} if deployment else counts


# Validation


def spec_errors(spec: dict, name: str, wrong_types: list[str]) -> list[str]:
    errors = [] if len(name) <= MAX_NAME else [f"metadata.name is {len(name)} characters; at most {MAX_NAME}"]
    if wrong_types:
        return errors + wrong_types
    if not isinstance(spec.get("model"), str) or not is_valid_model_name(spec["model"]):
        errors.append(f"spec.model {spec.get('model')!r} must be a DNS-1123 label")
    errors += version_source_errors(spec)
    if parse_duration(spec["rollbackWindow"]) is None:
        errors.append(f"spec.rollbackWindow {spec['rollbackWindow']!r} must be a duration like 10m or 0s")
    for field, value, low in (
        ("spec.replicas", spec["replicas"], 1),
        ("spec.canary.replicas", spec["canary"]["replicas"], 1),
        ("spec.canary.progressDeadlineSeconds", spec["canary"]["progressDeadlineSeconds"], 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            errors.append(f"{field} {value!r} must be an integer >= {low}")
    if "ingress" in spec and not (isinstance(spec["ingress"], dict) and spec["ingress"].get("host")):
        errors.append("spec.ingress needs a host")
    errors += route_errors(spec) + scaling_errors(spec)
    return errors + step_errors(spec["canary"]["steps"]) + analysis_errors(spec["canary"]["analysis"])


def step_errors(steps) -> list[str]:
    if not isinstance(steps, list):
        return ["spec.canary.steps must be a list"]
    errors, last = [], -1
    for i, step in enumerate(steps):
        where = f"spec.canary.steps[{i}]"
        if not isinstance(step, dict) or len(step) != 1 or not set(step) <= {"setWeight", "pause", "mirror"}:
            errors.append(f"{where} must have exactly one of setWeight, pause or mirror")
        elif "setWeight" in step:
            weight = step["setWeight"]
            if not isinstance(weight, int) or not last < weight <= 100:
                errors.append(f"{where}.setWeight {weight!r} must be above the previous weight and at most 100")
            else:
                last = weight
        elif "mirror" in step:
            mirror = step["mirror"]
            if not isinstance(mirror, dict) or (parse_duration(mirror.get("duration")) or 0) < 1:
                errors.append(f"{where}.mirror.duration must be a duration like 5m")
        elif not isinstance(step["pause"], dict) or (
            "duration" in step["pause"] and parse_duration(step["pause"]["duration"]) is None
        ):
            errors.append(f"{where}.pause.duration must be a duration like 30s, 2m or 1h")
    return errors


def analysis_errors(analysis) -> list[str]:
    errors = []
    if (parse_duration(analysis.get("interval")) or 0) < 1:
        errors.append(f"spec.canary.analysis.interval {analysis.get('interval')!r} must be a duration of 1s or more")
    checks = (
        ("minRequests", 0, None),
        ("failureLimit", 1, None),
        ("maxErrorRate", 0, 1),
        ("maxLatencyP99Seconds", 0, None),
        ("maxInconclusive", 1, None),
    )
    shift = analysis.get("maxPredictionShift")
    if shift is not None and (not isinstance(shift, int | float) or isinstance(shift, bool) or shift < 0):
        errors.append(f"spec.canary.analysis.maxPredictionShift {shift!r} must be a number >= 0")
    for field, low, high in checks:
        value = analysis.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low or (high and value > high):
            errors.append(f"spec.canary.analysis.{field} {value!r} is out of range")
    return errors


# Decisions, one per function, applied in this order by decide()


def initial_rollout(previous: dict, version: str, stable: dict | None) -> Rollout:
    """The rollout as the last status recorded it; without one, Stable at the running or wanted version."""
    r = read_rollout(previous, (stable and deployment_version(stable)) or version)
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
    if r.phase == Phase.STABLE and wanted == r.previous_version and is_window_open(r, now):
        return roll_back_to_previous(
            r, Phase.STABLE, Reason.VERSION_REVERTED, "the desired version is back", previous, plan
        )
    current = {
        Phase.PROGRESSING: r.canary_version,
        Phase.PAUSED: r.canary_version,
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
    return roll_back_to_previous(r, Phase.ROLLED_BACK, Reason.ROLLBACK_REQUESTED, asked, previous, plan)


def guarded_status(r: Rollout, plan: Plan) -> DeploymentStatus:
    """What the action guards read, as the rollout stands: the clients read the same from the status."""
    return DeploymentStatus(
        phase=r.phase,
        desired_version=plan.version,
        stable_version=r.stable_version,
        previous_version=r.previous_version,
        window_ends=r.window_ends,
        traffic_on_previous=r.traffic_on_previous,
    )


def start_steps_when_ready(r: Rollout, plan: Plan, canary: dict | None, now: datetime) -> Rollout:
    """Step timers start once the canary is ready; a canary not ready by the deadline is rolled back."""
    if r.phase not in ROLLING or r.step_started is not None:
        return r
    if is_rolled_out(canary, r.canary_version, plan.canary_replicas):
        return enter_step(r, plan.steps, 0, now)
    if now >= (r.started or now) + timedelta(seconds=plan.deadline_seconds):
        ready = track_status(canary)["readyReplicas"]
        message = f"canary not ready after {plan.deadline_seconds}s ({ready}/{plan.canary_replicas} ready)"
        return roll_back(r, Reason.PROGRESS_DEADLINE_EXCEEDED, message, now)
    return r


def next_analysis_at(r: Rollout, plan: Plan) -> datetime:
    last = r.check.time if r.check and r.check.time else r.step_started
    return max(r.step_started, last) + timedelta(seconds=plan.interval_seconds)


def run_analysis(r: Rollout, plan: Plan, observations: dict | None, now: datetime) -> Rollout:
    """When a check is due and metrics were read, record its verdict; failures and inconclusive runs count."""
    if not is_analysis_due(r, plan, now):
        return r
    if observations is None:
        # Held for inconclusive checks, the status keeps saying why.
        unread = "metrics could not be read: holding, with no promotion and no rollback on metrics"
        return r if is_held_inconclusive(r) else r._replace(message=unread)
    verdict, reasons = checks.judge(observations, plan.analysis)
    before = r.check or Check()
    failed = before.failed + (verdict == checks.FAIL)
    check = Check(
        failed=failed,
        inconclusive=before.inconclusive + 1 if verdict == checks.INCONCLUSIVE else 0,
        time=now,
        verdict=verdict,
        step=r.step or 0,
        message=f"{'; '.join(reasons)}, {failed}/{plan.analysis['failureLimit']} checks failed",
        canary=checks.track_numbers(observations.get("canary")),
        stable=checks.track_numbers(observations.get("stable")),
        thresholds={k: plan.analysis[k] for k in THRESHOLDS if plan.analysis.get(k) is not None},
    )
    # Held for inconclusive checks, the status keeps saying why; the check's numbers are in analysis.
    recorded = record_check(r, check)
    return recorded._replace(message=r.message) if is_held_inconclusive(r) else recorded


def check_failure_limit(r: Rollout, plan: Plan, now: datetime) -> Rollout:
    """Evaluated in every rolling phase, before any gate or pause."""
    if r.phase in ROLLING and r.check and r.check.failed >= plan.analysis["failureLimit"]:
        return roll_back(r, Reason.ANALYSIS_FAILED, r.check.message, now)
    return r


def apply_pause(r: Rollout, plan: Plan) -> Rollout:
    """spec.paused holds a rolling canary where it is; unpausing resumes, unless at a gate or held for
    inconclusive checks (a spec change ends that hold)."""
    if is_held_inconclusive(r) and r.paused_generation != plan.generation:
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
    if r.phase != Phase.PROGRESSING or r.step_started is None or plan.paused:
        return r
    step = current_step(r, plan)
    pause = step.pause_seconds if step else 0
    check = r.check or Check()
    passed = check.verdict == checks.PASS and check.step == r.step and check.time >= r.step_started
    if now < r.step_started + timedelta(seconds=pause) or not passed:
        return r
    if not plan.steps:
        return begin_promotion(r, Reason.ANALYSIS_PASSED, "the check passed: promoting")
    return enter_step(r, plan.steps, r.step + 1, now)


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
    return enter_step(r, plan.steps, r.step, now) if at_mirror else r


def finish_promotion(r: Rollout, plan: Plan, stable: dict | None, now: datetime) -> Rollout:
    """Once stable runs the canary's version on every replica, the canary's weight goes to 0."""
    if r.phase == Phase.PROMOTING and is_rolled_out(stable, r.canary_version, plan.replicas):
        return complete_promotion(r, now, plan.window_seconds)
    return r


def roll_back_to_previous(
    r: Rollout, phase: Phase, reason: str, why: str, previous: dict | None, plan: Plan
) -> Rollout:
    """Back to the previous version: at once onto the ready pods of its track (the stable track's
    pods join them as they roll back); with none ready, the stable track rolls back pod by pod,
    never sending traffic to pods not ready."""
    version = r.previous_version
    ready = track_status(previous)["readyReplicas"] if deployment_version(previous or {}) == version else 0
    if ready > 0:
        return to_previous(r, phase, reason, f"{why}: all traffic on the {ready} ready pods of {version}")
    message = f"{why}: the previous track of {version} has no ready pod, the stable track rolls back"
    return close_window(to_previous(r, phase, reason, message))


def finish_rollback(r: Rollout, plan: Plan, stable: dict | None) -> Rollout:
    """Once the stable track runs the previous version everywhere, traffic goes back to it and
    the previous track is removed."""
    if r.traffic_on_previous and is_rolled_out(stable, r.stable_version, plan.replicas):
        return close_window(r)
    return r


def end_window(r: Rollout, now: datetime) -> Rollout:
    """The rollback window is over: the previous track is removed."""
    if r.previous_version and not r.traffic_on_previous and r.window_ends and now >= r.window_ends:
        return close_window(r)
    return r


def finish_drain(r: Rollout, config: HookConfig, now: datetime) -> Rollout:
    return r._replace(draining_since=None, draining_version="") if has_drained(r, config, now) else r


def decide(r: Rollout, plan: Plan, annotations, tracks: tuple, observations, config: HookConfig, now) -> Rollout:
    """Every decision of one sync, in order."""
    stable, canary, previous = tracks
    r = follow_spec_version(r, plan, previous, now)
    r = apply_actions(r, annotations if isinstance(annotations, dict) else {}, plan, previous, now)
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
    return finish_drain(r, config, now)


# Children


def desired_children(parent: dict, spec: dict, r: Rollout, config: HookConfig, plan: Plan, request: dict) -> list[dict]:
    stable_version = r.canary_version if r.phase == Phase.PROMOTING else r.stable_version
    # During a rollback the stable Service selects the previous version's pods, ready on both tracks.
    serving = r.stable_version if r.traffic_on_previous else None
    children = [
        objects.new_deployment(parent, spec, objects.STABLE, stable_version, plan.replicas, config),
        objects.new_service(parent, spec, objects.STABLE, version=serving),
    ]
    # The version a promotion replaces starts on the previous track while the promotion runs,
    # so that it is ready when the rollback window opens.
    replaced = r.stable_version if r.phase == Phase.PROMOTING and plan.window_seconds else ""
    if r.previous_version or replaced:
        version = r.previous_version or replaced
        children.append(objects.new_deployment(parent, spec, objects.PREVIOUS, version, plan.replicas, config))
    children += canary_children(parent, spec, r, config, request)
    if spec.get("autoscaling"):
        children.append(objects.new_autoscaler(parent, spec))
    # The header route and mirroring start with the steps, once the canary's pods are ready.
    header = header_of(spec) if r.step_started is not None else None
    split = Split(canary=bool(r.canary_version), weight=r.canary_weight, header=header, mirror=is_mirroring(r, plan))
    observed_routes = {key: observed(request, key) for key in (INGRESS_KEY, ROUTE_KEY)}
    return children + route_children(parent, spec, split, observed_routes)


def canary_children(parent: dict, spec: dict, r: Rollout, config: HookConfig, request: dict) -> list[dict]:
    """The canary's Deployment and Service. A draining canary's are kept exactly as they run:
    its pods count predictions on the stable version's bounds, which a promotion changes, and a
    rebuilt template would start new pods only to remove them a moment later."""
    if r.canary_version:
        replicas = spec["canary"]["replicas"]
        return [
            objects.new_deployment(parent, spec, objects.CANARY, r.canary_version, replicas, config, r.stable_version),
            objects.new_service(parent, spec, objects.CANARY),
        ]
    if not r.draining_version:
        return []
    name = objects.child_name(parent, objects.CANARY)
    running = [observed(request, key).get(name) for key in (DEPLOYMENT_KEY, SERVICE_KEY)]
    return [kept_copy(child) for child in running if child]


def is_mirroring(r: Rollout, plan: Plan) -> bool:
    """True while the rollout is at a mirror step of a ready canary, on a router that can mirror."""
    return bool(r.canary_version) and is_at_mirror_step(r, plan) and plan.mirror_blocker is None


def kept_children(request: dict) -> list[dict]:
    """Every observed child as it is (for an invalid spec): an omitted child would be deleted."""
    return [kept_copy(child) for key in CHILD_KEYS for child in observed(request, key).values()]


# Status


def compute_status(
    parent: dict,
    r: Rollout,
    spec: dict,
    tracks: tuple,
    errors: list,
    previous: dict,
    now,
    resolved: Resolved,
    scale: Scale | None = None,
) -> dict:
    stable, canary, previous_track = tracks
    status = {**status_fields(r), **(scale.status if scale else {})}
    if resolved.version:
        status["desiredVersion"] = resolved.version
    status["stable"], status["canary"] = track_status(stable), track_status(canary)
    if r.previous_version or (previous_track and r.phase == Phase.PROMOTING):
        status["previous"] = track_status(previous_track)
    desired = spec.get("replicas") if type(spec.get("replicas")) is int else status["stable"]["replicas"]
    desired = scale.replicas if scale else desired
    status["ready"] = f"{status['stable']['readyReplicas']}/{desired}"
    generation = parent["metadata"].get("generation", 0)
    # Asked for before and still not there: its create did not succeed.
    stable_missing = stable is None and is_phase(previous.get("phase"))
    found = conditions(r, status, errors, stable_missing) + [resolved.condition]
    status["conditions"] = merge_conditions(previous.get("conditions"), found, now=now, generation=generation)
    return status


def conditions(r: Rollout, status: dict, errors: list[str], stable_missing: bool = False) -> list[Condition]:
    return [availability(r, status, stable_missing), progress(r), validity(errors)]


def availability(r: Rollout, status: dict, stable_missing: bool = False) -> Condition:
    stable, ready = status["stable"], status["ready"]
    if r.traffic_on_previous:
        ready_previous = status["previous"]["readyReplicas"] + stable["readyReplicas"] * (
            stable.get("version") == r.stable_version
        )
        message = f"rolling back: {ready_previous} ready pods of {r.stable_version} take all traffic"
        return Condition(ConditionType.AVAILABLE, ready_previous > 0, Reason.ROLLING_BACK, message)
    serving = (r.stable_version, r.canary_version) if r.phase == Phase.PROMOTING else (r.stable_version,)
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


def validity(errors: list[str]) -> Condition:
    return Condition(
        ConditionType.INVALID_SPEC,
        bool(errors),
        Reason.INVALID_SPEC if errors else Reason.SPEC_VALID,
        "; ".join(errors) or "the spec is valid",
    )


def next_wakeup(r: Rollout, plan: Plan, config: HookConfig, now: datetime) -> float | None:
    """Seconds until the next thing the hook waits for: a check, a pause's end, the deadline, a drain's end."""
    moments = []
    if r.draining_since:
        moments.append(r.draining_since + timedelta(seconds=config.drain_seconds))
    if r.window_ends and not r.traffic_on_previous:
        moments.append(r.window_ends)
    if r.phase in ROLLING and r.step_started:
        check_at = next_analysis_at(r, plan)
        # A check already due could not read the metrics: try again soon, without hammering.
        moments.append(check_at if check_at > now else now + timedelta(seconds=METRICS_RETRY_SECONDS))
        step = current_step(r, plan)
        if step and step.pause_seconds:
            moments.append(r.step_started + timedelta(seconds=step.pause_seconds))
    elif r.phase in ROLLING:
        moments.append((r.started or now) + timedelta(seconds=plan.deadline_seconds))
    future = [(m - now).total_seconds() for m in moments if m > now]
    return min(future) if future else None


# Entry points


def analysis_window(request: dict, now: datetime) -> dict | None:
    """What the HTTP layer must read from Prometheus for this sync, or None when no check is due."""
    parent, spec, status, wrong_types = read_parent(request)
    if spec_errors(spec, parent["metadata"]["name"], wrong_types):
        return None
    stable = observed_tracks(request, parent)[0]
    resolved = resolve_version(spec, request, status, deployment_version(stable) if stable else "")
    if not resolved.version:
        return None
    plan = new_plan(spec, parent["metadata"].get("generation", 0), resolved.version, spec["replicas"])
    return due_window(parent, spec, read_rollout(status, resolved.version), plan, now)


def due_window(parent: dict, spec: dict, r: Rollout, plan: Plan, now: datetime) -> dict | None:
    if not is_analysis_due(r, plan, now):
        return None
    return {
        "namespace": parent["metadata"].get("namespace", ""),
        "model": spec["model"],
        "canaryVersion": r.canary_version,
        "stableVersion": r.stable_version,
        "windowSeconds": plan.interval_seconds,
    }


def sync(request: dict, *, now: datetime, observations: dict | None, config: HookConfig | None = None) -> dict:
    """Metacontroller sync hook: the tracks' children and the MLDeployment's status."""
    return reconcile(request, now=now, read_metrics=lambda window: observations, config=config)


def reconcile(request: dict, *, now: datetime, read_metrics, config: HookConfig | None = None) -> dict:
    """sync(), asking `read_metrics(window)` for Prometheus's numbers only when a check is due."""
    config = config or HookConfig()
    parent, spec, previous, wrong_types = read_parent(request)
    tracks = observed_tracks(request, parent)
    errors = spec_errors(spec, parent["metadata"]["name"], wrong_types)
    if errors:
        return invalid_response(request, parent, spec, previous, tracks, errors, now)
    resolved = resolve_version(spec, request, previous, deployment_version(tracks[0]) if tracks[0] else "")
    if not resolved.version:
        return waiting_response(parent, spec, previous, resolved, now)
    generation = parent["metadata"].get("generation", 0)
    scale = stable_scale(spec, tracks[0], previous, generation)
    plan = new_plan(spec, generation, resolved.version, scale.replicas, router_mirror_blocker(parent, spec, request))
    r = initial_rollout(previous, resolved.version, tracks[0])
    window = due_window(parent, spec, r, plan, now)
    observations = read_metrics(window) if window else None
    r = decide(r, plan, parent["metadata"].get("annotations"), tracks, observations, config, now)
    status = compute_status(parent, r, spec, tracks, [], previous, now, resolved, scale)
    children = desired_children(parent, spec, r, config, plan, request)
    wakeup = next_wakeup(r, plan, config, now)
    if missing_children(request, children):
        wakeup = sooner(wakeup, retry_seconds(parent, now))
    response = {"status": status, "children": children}
    return {**response, "resyncAfterSeconds": wakeup} if wakeup else response


def invalid_response(request, parent, spec, previous, tracks, errors, now) -> dict:
    """Keep serving what runs: every observed child stays as it is; the status says which field is wrong."""
    stable = tracks[0]
    r = read_rollout(previous, deployment_version(stable) if stable else "")
    if stable is None and not is_phase(previous.get("phase")):
        r = r._replace(phase=Phase.FAILED)
    recorded = previous.get("desiredVersion")
    kept = Resolved(
        recorded if isinstance(recorded, str) and is_valid_version(recorded) else "",
        Condition(ConditionType.VERSION_RESOLVED, False, Reason.INVALID_SPEC, "the spec is invalid: see InvalidSpec"),
    )
    status = compute_status(parent, r, spec, tracks, errors, previous, now, kept)
    # What autoscaling left is kept too: a later valid spec still holds the HPA's count.
    status.update({k: previous[k] for k in ("autoscaled", "heldReplicas", "heldGeneration") if k in previous})
    return {"status": status, "children": kept_children(request)}


def waiting_response(parent: dict, spec: dict, previous: dict, resolved: Resolved, now) -> dict:
    """Nothing runs and no version is known yet (a training run still to publish one): no children."""
    status = {"canaryVersion": "", "canaryWeight": 0, "stable": track_status(None), "canary": track_status(None)}
    status["ready"] = f"0/{spec['replicas']}"
    available = Condition(ConditionType.AVAILABLE, False, Reason.NO_VERSION, resolved.condition.message)
    found = [
        available,
        Condition(ConditionType.PROGRESSING, False, Reason.NO_VERSION, ""),
        validity([]),
        resolved.condition,
    ]
    generation = parent["metadata"].get("generation", 0)
    status["conditions"] = merge_conditions(previous.get("conditions"), found, now=now, generation=generation)
    return {"status": status, "children": []}


def has_mirror_step(spec: dict) -> bool:
    steps = (spec.get("canary") or {}).get("steps")
    return isinstance(steps, list) and any(isinstance(step, dict) and "mirror" in step for step in steps)


def router_mirror_blocker(parent: dict, spec: dict, request: dict) -> str | None:
    """Why the router cannot mirror: only a Gateway API router is asked (NGINX has no way to say)."""
    if router_of(spec) != GATEWAY_API or not has_mirror_step(spec):
        return None
    return mirror_blocker(observed(request, ROUTE_KEY).get(parent["metadata"]["name"]), request)


def customize(request: dict) -> dict:
    """Metacontroller customize hook: the MLTrainingJob that spec.versionFrom follows, if any, and
    the GatewayClasses, when a Gateway API route has a mirror step (can they mirror?)."""
    parent, spec, _, _ = read_parent(request)
    rules = related_rules(spec, parent["metadata"].get("namespace", ""))
    if router_of(spec) == GATEWAY_API and has_mirror_step(spec):
        rules.append(GATEWAY_CLASSES)
    return {"relatedResources": rules}
