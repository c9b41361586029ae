"""Sync hook of the MLDeployment controller (aurora.dev/v1alpha1): progressive delivery of model versions.

Request and response are Metacontroller's CompositeController hook bodies
(https://metacontroller.github.io/metacontroller/api/compositecontroller.html).
Everything is pure: the clock comes in as `now`, Prometheus's numbers as `observations`
(None when they could not be read), and the rollout's state is the previous status.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from hooks import inference_objects as objects
from hooks.conditions import Condition, merge_conditions, parse_rfc3339, rfc3339
from hooks.config import HookConfig
from hooks.request import observed_group, parent_parts
from hooks.shapes import NUMBER, cleaned, shape_errors
from trainer.store import is_valid_model_name, is_valid_version

DEPLOYMENT_KEY, SERVICE_KEY, INGRESS_KEY = "Deployment.apps/v1", "Service.v1", "Ingress.networking.k8s.io/v1"
ACTIONS = ("promote", "abort", "retry")
DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
# How many values of each action annotation are remembered (the newest ones).
SEEN_ACTIONS_KEPT = 20
DEFAULT_STEPS = [{"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 50}, {"pause": {"duration": "120s"}}]
DEFAULT_ANALYSIS = {
    "interval": "30s",
    "minRequests": 50,
    "maxErrorRate": 0.01,
    "maxLatencyP99Seconds": 0.5,
    "failureLimit": 2,
}
# A canary is "clearly worse" than stable when it is this many times worse and by at least this much.
WORSE_FACTOR = 2.0
WORSE_ERROR_RATE_MARGIN = 0.005
WORSE_LATENCY_MARGIN_SECONDS = 0.05
# When a due check could not read Prometheus, the next attempt comes this much later.
METRICS_RETRY_SECONDS = 10.0

SPEC_SHAPE = {
    "model": str,
    "version": str,
    "replicas": int,
    "image": str,
    "resources": dict,
    "storage": {"claimName": str},
    "ingress": {"host": str, "path": str, "className": str},
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
        },
    },
}
STATUS_SHAPE = {
    **{
        k: str
        for k in ("phase", "stableVersion", "canaryVersion", "stepStartedAt", "rolloutStartedAt", "failedVersion")
    },
    **{k: str for k in ("drainingSince", "drainingVersion", "reason", "message")},
    "canaryWeight": int,
    "currentStep": int,
    "actions": {action: [str] for action in ("promote", "abort", "retry")},
    "analysis": {
        "time": str,
        "verdict": str,
        "failedChecks": int,
        "step": int,
        "message": str,
        "canary": dict,
        "stable": dict,
        "thresholds": dict,
    },
    "conditions": [dict],
}

# Phases (status.phase), each with what is true in it:
STABLE = "Stable"  # one version serves all traffic; no canary takes any
PROGRESSING = "Progressing"  # a canary is starting, or walking the steps under analysis
PAUSED = "Paused"  # the canary holds its weight: spec.paused, or a pause step that waits for a promote
PROMOTING = "Promoting"  # the stable track moves to the canary's version; the canary keeps its weight meanwhile
ROLLED_BACK = "RolledBack"  # the canary failed or was aborted; stable serves all; stays until a new version or retry
FAILED = "Failed"  # the spec is invalid and no stable track exists to keep serving
ROLLING = (PROGRESSING, PAUSED)


# Predicates


def is_analysis_due(state: dict, spec: dict, now: datetime) -> bool:
    started = parse_rfc3339(state.get("stepStartedAt"))
    return state["phase"] in ROLLING and started is not None and now >= next_analysis_at(state, spec)


def is_rolled_out(deployment: dict | None, version: str, replicas: int) -> bool:
    """True when a Deployment runs `version` on all its replicas, all ready and updated."""
    if not deployment or deployment_version(deployment) != version:
        return False
    status = deployment.get("status") or {}
    current = status.get("observedGeneration", 0) >= deployment.get("metadata", {}).get("generation", 0)
    return current and all(
        status.get(k, 0) >= replicas for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
    )


def has_drained(state: dict, config: HookConfig, now: datetime) -> bool:
    since = parse_rfc3339(state.get("drainingSince"))
    return since is not None and now >= since + timedelta(seconds=config.drain_seconds)


# Reading the request


def read_parent(request: dict) -> tuple[dict, dict, dict, list[str]]:
    """Parent, spec with defaults (as written if ill-typed), well-typed previous status, and the spec's type errors."""
    parent, spec, status = parent_parts(request)
    wrong_types = shape_errors(spec, SPEC_SHAPE, "spec")
    spec = spec if wrong_types else with_defaults(spec)
    return parent, spec, readable_times(cleaned(status, STATUS_SHAPE)), wrong_types


def readable_times(status: dict) -> dict:
    """Drop recorded times that do not parse: a rollout restarts its timers rather than fail."""
    for field in ("stepStartedAt", "rolloutStartedAt", "drainingSince"):
        if field in status and parse_rfc3339(status[field]) is None:
            del status[field]
    if "analysis" in status and "time" in status["analysis"] and parse_rfc3339(status["analysis"]["time"]) is None:
        del status["analysis"]["time"]
    return status


def with_defaults(spec: dict) -> dict:
    canary = {"replicas": 1, "progressDeadlineSeconds": 600, "steps": DEFAULT_STEPS, **(spec.get("canary") or {})}
    canary["analysis"] = {**DEFAULT_ANALYSIS, **((spec.get("canary") or {}).get("analysis") or {})}
    merged = {"replicas": 2, "paused": False, **spec, "canary": canary}
    merged["storage"] = {"claimName": "aurora-models", **(spec.get("storage") or {})}
    return merged


def observed(request: dict, key: str) -> dict:
    return observed_group(request, key)


def deployment_version(deployment: dict) -> str:
    labels = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    return labels.get(objects.LABEL_VERSION, "")


def track_replicas(deployment: dict | None) -> dict:
    status = (deployment or {}).get("status") or {}
    return {"replicas": status.get("replicas", 0), "readyReplicas": status.get("readyReplicas", 0)}


def parse_duration(text) -> int | None:
    """'90s', '2m', '1h30m' -> seconds; None when malformed."""
    return duration_seconds(text) if isinstance(text, str) and text else None


@lru_cache(maxsize=1024)
def duration_seconds(text: str) -> int | None:
    match = DURATION.fullmatch(text)
    if not match:
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


# Validation


# Child Services are named <name>-stable / <name>-canary and must stay DNS-1035 labels (63).
MAX_NAME = 56


def spec_errors(spec: dict, name: str, wrong_types: list[str]) -> list[str]:
    errors = [] if len(name) <= MAX_NAME else [f"metadata.name is {len(name)} characters; at most {MAX_NAME}"]
    if wrong_types:
        return errors + wrong_types
    if not isinstance(spec.get("model"), str) or not is_valid_model_name(spec["model"]):
        errors.append(f"spec.model {spec.get('model')!r} must be a DNS-1123 label")
    if not isinstance(spec.get("version"), str) or not is_valid_version(spec["version"]):
        errors.append(f"spec.version {spec.get('version')!r} must be of the form vYYYYMMDD-HHMMSS")
    for field, value, low in (
        ("spec.replicas", spec["replicas"], 1),
        ("spec.canary.replicas", spec["canary"]["replicas"], 1),
        ("spec.canary.progressDeadlineSeconds", spec["canary"]["progressDeadlineSeconds"], 1),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            errors.append(f"{field} {value!r} must be an integer >= {low}")
    if "ingress" in spec and not (isinstance(spec["ingress"], dict) and spec["ingress"].get("host")):
        errors.append("spec.ingress needs a host")
    return errors + step_errors(spec["canary"]["steps"]) + analysis_errors(spec["canary"]["analysis"])


def step_errors(steps) -> list[str]:
    if not isinstance(steps, list):
        return ["spec.canary.steps must be a list"]
    errors, last = [], -1
    for i, step in enumerate(steps):
        where = f"spec.canary.steps[{i}]"
        if not isinstance(step, dict) or len(step) != 1 or not set(step) <= {"setWeight", "pause"}:
            errors.append(f"{where} must have exactly one of setWeight or pause")
        elif "setWeight" in step:
            weight = step["setWeight"]
            if not isinstance(weight, int) or not last < weight <= 100:
                errors.append(f"{where}.setWeight {weight!r} must be above the previous weight and at most 100")
            else:
                last = weight
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
    )
    for field, low, high in checks:
        value = analysis.get(field)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low or (high and value > high):
            errors.append(f"spec.canary.analysis.{field} {value!r} is out of range")
    return errors


# The rollout state: what the previous status recorded


def previous_state(status: dict, spec: dict, stable: dict | None) -> dict:
    """The rollout as the last status recorded it; a first sync starts Stable at the running or wanted version."""
    if status.get("phase") in (STABLE, PROGRESSING, PAUSED, PROMOTING, ROLLED_BACK):
        return {**status, "actions": status.get("actions") or {}}
    version = status.get("stableVersion") or (stable and deployment_version(stable)) or spec["version"]
    return {
        "phase": STABLE,
        "stableVersion": version,
        "canaryVersion": "",
        "canaryWeight": 0,
        "actions": status.get("actions") or {},
    }


def start_rollout(state: dict, version: str, now: datetime) -> dict:
    return {
        **{
            k: v
            for k, v in state.items()
            if k not in ("analysis", "currentStep", "stepStartedAt", "failedVersion", "reason")
        },
        "phase": PROGRESSING,
        "canaryVersion": version,
        "canaryWeight": 0,
        "rolloutStartedAt": rfc3339(now),
        "drainingSince": None,
        "analysis": {"failedChecks": 0},
        "message": f"canary {version} starting",
    }


def roll_back(state: dict, reason: str, message: str, now: datetime, phase: str = ROLLED_BACK) -> dict:
    """Weight 0 at once; the canary is removed once drained. The failed version is remembered."""
    return {
        **{k: v for k, v in state.items() if k not in ("currentStep", "stepStartedAt", "rolloutStartedAt")},
        "phase": phase,
        "failedVersion": state["canaryVersion"] if phase == ROLLED_BACK else None,
        "canaryVersion": "",
        "canaryWeight": 0,
        "drainingSince": rfc3339(now),
        "drainingVersion": state["canaryVersion"],
        "reason": reason,
        "message": message,
    }


# Decisions, one per function, applied in this order by sync()


def follow_spec_version(state: dict, spec: dict, now: datetime) -> dict:
    """A new spec.version starts (or restarts) a canary; going back to the stable version aborts."""
    wanted, phase = spec["version"], state["phase"]
    if phase == PROMOTING:
        # A promotion in flight finishes first; a newer version starts from the new stable.
        return state
    if phase in ROLLING and wanted == state["stableVersion"]:
        return roll_back(state, "VersionReverted", f"spec.version is back to {wanted}: rollout aborted", now, STABLE)
    if phase == ROLLED_BACK and wanted == state["stableVersion"]:
        return {**state, "phase": STABLE, "failedVersion": None, "reason": "VersionReverted", "message": ""}
    current = {PROGRESSING: state.get("canaryVersion"), PAUSED: state.get("canaryVersion")}
    current.update({ROLLED_BACK: state.get("failedVersion"), STABLE: state["stableVersion"]})
    return state if wanted == current[phase] else start_rollout(state, wanted, now)


def apply_actions(state: dict, annotations: dict, spec: dict, now: datetime) -> dict:
    """Act once on each new value of aurora.dev/promote|abort|retry; remember every value seen."""
    seen = {action: list(state["actions"].get(action) or []) for action in ACTIONS}
    for action in ACTIONS:
        value = annotations.get(f"aurora.dev/{action}")
        if not isinstance(value, str) or not value or value in seen[action]:
            continue
        seen[action] = (seen[action] + [value])[-SEEN_ACTIONS_KEPT:]
        state = act(state, action, value, spec, now)
    return {**state, "actions": {k: v for k, v in seen.items() if v}}


def act(state: dict, action: str, value: str, spec: dict, now: datetime) -> dict:
    phase = state["phase"]
    if action == "abort" and phase in ROLLING:
        return roll_back(state, "Aborted", f"aborted by aurora.dev/abort={value}", now)
    if action == "promote" and phase in ROLLING:
        return {
            **state,
            "phase": PROMOTING,
            "reason": "PromotedByHand",
            "message": f"promoted by aurora.dev/promote={value}",
        }
    if action == "retry" and phase == ROLLED_BACK and spec["version"] != state["stableVersion"]:
        return start_rollout(state, spec["version"], now)
    return state


def start_steps_when_ready(state: dict, spec: dict, canary: dict | None, now: datetime) -> dict:
    """Step timers start once the canary is ready; a canary not ready by the deadline is rolled back."""
    if state["phase"] not in ROLLING or state.get("stepStartedAt"):
        return state
    if is_rolled_out(canary, state["canaryVersion"], spec["canary"]["replicas"]):
        return enter_step(state, spec, 0, now)
    deadline = spec["canary"]["progressDeadlineSeconds"]
    started = parse_rfc3339(state.get("rolloutStartedAt")) or now
    if now >= started + timedelta(seconds=deadline):
        ready = track_replicas(canary)["readyReplicas"]
        message = f"canary not ready after {deadline}s ({ready}/{spec['canary']['replicas']} ready)"
        return roll_back(state, "ProgressDeadlineExceeded", message, now)
    return state


def enter_step(state: dict, spec: dict, index: int, now: datetime) -> dict:
    steps = spec["canary"]["steps"]
    if index >= len(steps) and steps:
        return {**state, "phase": PROMOTING, "reason": "StepsCompleted", "message": "all steps passed: promoting"}
    weights = [s["setWeight"] for s in steps[: index + 1] if "setWeight" in s]
    step = steps[index] if steps else {}
    manual_gate = "pause" in step and "duration" not in step["pause"]
    return {
        **state,
        "phase": PAUSED if manual_gate else state["phase"],
        "currentStep": index,
        "stepStartedAt": rfc3339(now),
        "canaryWeight": weights[-1] if weights else state.get("canaryWeight", 0),
        "message": step_message(steps, index, manual_gate),
    }


def step_message(steps: list, index: int, manual_gate: bool) -> str:
    if not steps:
        return "no steps: promoting after the first passing check"
    return f"step {index + 1}/{len(steps)}" + (": waiting for aurora.dev/promote" if manual_gate else "")


def next_analysis_at(state: dict, spec: dict) -> datetime:
    interval = timedelta(seconds=parse_duration(spec["canary"]["analysis"]["interval"]))
    step_start = parse_rfc3339(state["stepStartedAt"])
    last = parse_rfc3339((state.get("analysis") or {}).get("time"))
    return max(step_start, last or step_start) + interval


def judge(observations: dict, analysis: dict) -> tuple[str, list[str]]:
    """Pass, Fail or Inconclusive for one window, with the deciding numbers."""
    canary, stable = observations.get("canary") or {}, observations.get("stable") or {}
    requests = canary.get("requests") or 0
    # No requests at all is never a pass, even with minRequests 0.
    if requests < max(analysis["minRequests"], 1):
        return "Inconclusive", [f"canary served {requests:g} requests < minRequests {analysis['minRequests']}"]
    reasons = threshold_failures(canary, analysis) or comparison_failures(canary, stable, analysis)
    return ("Fail", reasons) if reasons else ("Pass", [summary_line(canary, analysis)])


def threshold_failures(canary: dict, analysis: dict) -> list[str]:
    reasons = []
    error_rate, p99 = canary.get("errorRate"), canary.get("latencyP99")
    if error_rate is not None and error_rate > analysis["maxErrorRate"]:
        reasons.append(f"canary error rate {error_rate:.3g} > {analysis['maxErrorRate']:g}")
    if p99 is not None and p99 > analysis["maxLatencyP99Seconds"]:
        reasons.append(f"canary p99 {p99:.3g}s > {analysis['maxLatencyP99Seconds']:g}s")
    return reasons


def comparison_failures(canary: dict, stable: dict, analysis: dict) -> list[str]:
    """Clearly worse than stable (judged only when stable served enough requests too)."""
    if (stable.get("requests") or 0) < analysis["minRequests"]:
        return []
    reasons = []
    measures = (
        ("errorRate", "error rate", WORSE_ERROR_RATE_MARGIN, ""),
        ("latencyP99", "p99", WORSE_LATENCY_MARGIN_SECONDS, "s"),
    )
    for field, name, margin, unit in measures:
        ours, theirs = canary.get(field), stable.get(field)
        if ours is not None and theirs is not None and ours > max(theirs * WORSE_FACTOR, theirs + margin):
            reasons.append(f"canary {name} {ours:.3g}{unit} is clearly worse than stable's {theirs:.3g}{unit}")
    return reasons


def summary_line(canary: dict, analysis: dict) -> str:
    error_rate, p99 = canary.get("errorRate") or 0.0, canary.get("latencyP99") or 0.0
    return (
        f"canary error rate {error_rate:.3g} <= {analysis['maxErrorRate']:g}, "
        f"p99 {p99:.3g}s <= {analysis['maxLatencyP99Seconds']:g}s over {canary.get('requests', 0):g} requests"
    )


def run_analysis(state: dict, spec: dict, observations: dict | None, now: datetime) -> dict:
    """When a check is due and metrics were read, record its verdict; a failure counts."""
    if not is_analysis_due(state, spec, now):
        return state
    if observations is None:
        return {**state, "message": "metrics could not be read: holding, with no promotion and no rollback on metrics"}
    analysis = spec["canary"]["analysis"]
    verdict, reasons = judge(observations, analysis)
    failed = (state.get("analysis") or {}).get("failedChecks", 0) + (verdict == "Fail")
    record = {
        "time": rfc3339(now),
        "verdict": verdict,
        "failedChecks": failed,
        "step": state.get("currentStep", 0),
        "canary": track_numbers(observations.get("canary")),
        "stable": track_numbers(observations.get("stable")),
        "thresholds": {k: analysis[k] for k in ("minRequests", "maxErrorRate", "maxLatencyP99Seconds", "failureLimit")},
        "message": f"{'; '.join(reasons)}, {failed}/{analysis['failureLimit']} checks failed",
    }
    return {**state, "analysis": record, "message": record["message"]}


def track_numbers(track: dict | None) -> dict:
    track = track or {}
    return {
        "requests": track.get("requests") or 0,
        "errorRate": track.get("errorRate"),
        "latencyP99": track.get("latencyP99"),
    }


def check_failure_limit(state: dict, spec: dict, now: datetime) -> dict:
    """Evaluated in every rolling phase, before any gate or pause."""
    failed = (state.get("analysis") or {}).get("failedChecks", 0)
    if state["phase"] in ROLLING and failed >= spec["canary"]["analysis"]["failureLimit"]:
        return roll_back(state, "AnalysisFailed", state["analysis"]["message"], now)
    return state


def advance_steps(state: dict, spec: dict, now: datetime) -> dict:
    """Move to the next step when this one's time is up and a check at this step passed."""
    if state["phase"] != PROGRESSING or not state.get("stepStartedAt") or spec["paused"]:
        return state
    steps, index = spec["canary"]["steps"], state.get("currentStep", 0)
    step = steps[index] if steps else {}
    started = parse_rfc3339(state["stepStartedAt"])
    pause = parse_duration(step.get("pause", {}).get("duration", "0s")) or 0
    analysis = state.get("analysis") or {}
    passed = (
        analysis.get("verdict") == "Pass"
        and analysis.get("step") == index
        and parse_rfc3339(analysis.get("time")) >= started
    )
    if now < started + timedelta(seconds=pause) or not passed:
        return state
    if not steps:
        return {**state, "phase": PROMOTING, "reason": "AnalysisPassed", "message": "the check passed: promoting"}
    return enter_step(state, spec, index + 1, now)


def apply_pause(state: dict, spec: dict) -> dict:
    """spec.paused holds a rolling canary where it is; unpausing resumes (unless at a manual gate)."""
    if state["phase"] == PROGRESSING and spec["paused"]:
        return {**state, "phase": PAUSED}
    if state["phase"] == PAUSED and not spec["paused"] and not at_manual_gate(state, spec):
        return {**state, "phase": PROGRESSING}
    return state


def at_manual_gate(state: dict, spec: dict) -> bool:
    steps, index = spec["canary"]["steps"], state.get("currentStep")
    return (
        bool(state.get("stepStartedAt"))
        and index is not None
        and index < len(steps)
        and "pause" in steps[index]
        and "duration" not in steps[index]["pause"]
    )


def finish_promotion(state: dict, spec: dict, stable: dict | None, now: datetime) -> dict:
    """Once stable runs the canary's version on every replica, the canary's weight goes to 0."""
    if state["phase"] != PROMOTING or not is_rolled_out(stable, state["canaryVersion"], spec["replicas"]):
        return state
    version = state["canaryVersion"]
    done = roll_back(state, "Promoted", f"{version} promoted to stable", now, STABLE)
    return {**done, "stableVersion": version, "failedVersion": None}


def finish_drain(state: dict, config: HookConfig, now: datetime) -> dict:
    if has_drained(state, config, now):
        return {**state, "drainingSince": None, "drainingVersion": None}
    return state


# Children


def desired_children(parent: dict, spec: dict, state: dict, config: HookConfig) -> list[dict]:
    stable_version = state["canaryVersion"] if state["phase"] == PROMOTING else state["stableVersion"]
    children = [
        objects.new_deployment(parent, spec, objects.STABLE, stable_version, spec["replicas"], config),
        objects.new_service(parent, spec, objects.STABLE),
    ]
    if spec.get("ingress"):
        children.append(objects.new_ingress(parent, spec, objects.STABLE))
    canary_version = state.get("canaryVersion") or state.get("drainingVersion")
    if canary_version:
        children += [
            objects.new_deployment(parent, spec, objects.CANARY, canary_version, spec["canary"]["replicas"], config),
            objects.new_service(parent, spec, objects.CANARY),
        ]
        # A canary Ingress at weight 0 routes nothing; it is left out.
        if spec.get("ingress") and state["canaryWeight"] > 0:
            children.append(objects.new_ingress(parent, spec, objects.CANARY, state["canaryWeight"]))
    return children


def kept_children(request: dict) -> list[dict]:
    """Every observed child as it is (for an invalid spec): an omitted child would be deleted."""
    kept = []
    for key in (DEPLOYMENT_KEY, SERVICE_KEY, INGRESS_KEY):
        for child in observed(request, key).values():
            metadata = child.get("metadata") or {}
            annotations = {
                k: v
                for k, v in (metadata.get("annotations") or {}).items()
                if not k.startswith("metacontroller.k8s.io/")
            }
            fresh = {"name": metadata.get("name"), "labels": metadata.get("labels") or {}, "annotations": annotations}
            kept.append(
                {
                    "apiVersion": child.get("apiVersion"),
                    "kind": child.get("kind"),
                    "metadata": fresh,
                    "spec": child.get("spec") or {},
                }
            )
    return kept


# Status


STATUS_FIELDS = (
    "phase",
    "stableVersion",
    "canaryVersion",
    "canaryWeight",
    "currentStep",
    "stepStartedAt",
    "rolloutStartedAt",
    "analysis",
    "actions",
    "failedVersion",
    "drainingSince",
    "drainingVersion",
    "reason",
    "message",
)


def compute_status(
    parent: dict, state: dict, stable: dict | None, canary: dict | None, errors: list, previous: dict, now
) -> dict:
    status = {
        k: state[k]
        for k in STATUS_FIELDS
        if state.get(k) not in (None, "", {}) or k in ("canaryVersion", "canaryWeight")
    }
    status["stable"], status["canary"] = track_replicas(stable), track_replicas(canary)
    generation = parent["metadata"].get("generation", 0)
    status["conditions"] = merge_conditions(
        previous.get("conditions"), conditions(state, stable, errors), now=now, generation=generation
    )
    return status


def conditions(state: dict, stable: dict | None, errors: list[str]) -> list[Condition]:
    phase, ready = state["phase"], track_replicas(stable)["readyReplicas"]
    available = Condition(
        "Available", ready > 0, "StableReady" if ready > 0 else "StableNotReady", f"{ready} stable replicas ready"
    )
    rolling = phase in (PROGRESSING, PAUSED, PROMOTING)
    reason = phase if rolling else (state.get("reason") or "NoRollout")
    progressing = Condition("Progressing", rolling, reason, state.get("message") or "")
    invalid = Condition(
        "InvalidSpec", bool(errors), "InvalidSpec" if errors else "SpecValid", "; ".join(errors) or "the spec is valid"
    )
    return [available, progressing, invalid]


def next_wakeup(state: dict, spec: dict, config: HookConfig, now: datetime) -> float | None:
    """Seconds until the next timed event: a check, the end of a pause, the deadline, the end of a drain."""
    moments = []
    if state.get("drainingSince"):
        moments.append(parse_rfc3339(state["drainingSince"]) + timedelta(seconds=config.drain_seconds))
    if state["phase"] in ROLLING and state.get("stepStartedAt"):
        moments.append(next_analysis_at(state, spec))
        steps, index = spec["canary"]["steps"], state.get("currentStep", 0)
        duration = (
            parse_duration((steps[index] if index < len(steps) else {}).get("pause", {}).get("duration", ""))
            if steps
            else None
        )
        if duration:
            moments.append(parse_rfc3339(state["stepStartedAt"]) + timedelta(seconds=duration))
    elif state["phase"] in ROLLING:
        started = parse_rfc3339(state.get("rolloutStartedAt")) or now
        moments.append(started + timedelta(seconds=spec["canary"]["progressDeadlineSeconds"]))
    future = [(m - now).total_seconds() for m in moments]
    if not future:
        return None
    # An overdue check means the metrics could not be read: try again soon, without hammering.
    return min(future) if min(future) > 0 else METRICS_RETRY_SECONDS


# Entry points


def analysis_window(request: dict, now: datetime) -> dict | None:
    """What the HTTP layer must read from Prometheus for this sync, or None when no check is due."""
    parent, spec, status, wrong_types = read_parent(request)
    if (
        spec_errors(spec, parent["metadata"]["name"], wrong_types)
        or status.get("phase") not in ROLLING
        or not status.get("stepStartedAt")
    ):
        return None
    if not is_analysis_due(status, spec, now):
        return None
    return {
        "namespace": parent["metadata"].get("namespace", ""),
        "model": spec["model"],
        "canaryVersion": status.get("canaryVersion", ""),
        "stableVersion": status.get("stableVersion", ""),
        "windowSeconds": parse_duration(spec["canary"]["analysis"]["interval"]),
    }


def sync(request: dict, *, now: datetime, observations: dict | None, config: HookConfig | None = None) -> dict:
    """Metacontroller sync hook: the tracks' children and the MLDeployment's status."""
    config = config or HookConfig()
    parent, spec, previous, wrong_types = read_parent(request)
    deployments = observed(request, DEPLOYMENT_KEY)
    stable, canary = (deployments.get(objects.child_name(parent, t)) for t in (objects.STABLE, objects.CANARY))
    errors = spec_errors(spec, parent["metadata"]["name"], wrong_types)
    if errors:
        return invalid_response(request, parent, previous, stable, canary, errors, now)
    state = previous_state(previous, spec, stable)
    state = follow_spec_version(state, spec, now)
    annotations = parent["metadata"].get("annotations")
    state = apply_actions(state, annotations if isinstance(annotations, dict) else {}, spec, now)
    state = start_steps_when_ready(state, spec, canary, now)
    state = run_analysis(state, spec, observations, now)
    state = check_failure_limit(state, spec, now)
    state = apply_pause(state, spec)
    state = advance_steps(state, spec, now)
    state = finish_promotion(state, spec, stable, now)
    state = finish_drain(state, config, now)
    response = {"status": compute_status(parent, state, stable, canary, [], previous, now)}
    response["children"] = desired_children(parent, spec, state, config)
    wakeup = next_wakeup(state, spec, config, now)
    return {**response, "resyncAfterSeconds": wakeup} if wakeup else response


def invalid_response(request, parent, previous, stable, canary, errors, now) -> dict:
    """Keep serving what runs: every observed child stays as it is; the status says which field is wrong."""
    state = {k: v for k, v in previous.items() if k in STATUS_FIELDS}
    state.setdefault("phase", FAILED if stable is None else STABLE)
    state.setdefault("stableVersion", deployment_version(stable) if stable else "")
    status = compute_status(
        parent,
        {**state, "canaryVersion": state.get("canaryVersion", ""), "canaryWeight": state.get("canaryWeight", 0)},
        stable,
        canary,
        errors,
        previous,
        now,
    )
    return {"status": status, "children": kept_children(request)}
