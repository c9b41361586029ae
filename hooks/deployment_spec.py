"""An MLDeployment's spec as written: its shape, its defaults, and what makes it invalid.

An invalid spec changes nothing that runs (mldeployment.invalid_response); a valid one becomes
the rollout's Plan (plan.py)."""

from __future__ import annotations

import math

from aurora_api.names import is_valid_model_name
from aurora_api.times import parse_duration
from hooks.routes import route_errors
from hooks.scaling import scaling_errors
from hooks.shapes import NUMBER, shape_errors
from hooks.version_source import version_source_errors

DEFAULT_STEPS = [{"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 50}, {"pause": {"duration": "120s"}}]
DEFAULT_ANALYSIS = {"interval": "30s", "minRequests": 50, "maxInconclusive": 10}
# Judged against ceilings alone (no baseline).
THRESHOLD_DEFAULTS = {"maxErrorRate": 0.01, "maxLatencyP99Seconds": 0.5, "failureLimit": 2}
# Judged against stable: the evidence adds up over the rollout, so one check showing an excess
# is already the decision at the confidence asked; ceilings apply only when written.
BASELINE_DEFAULTS = {"maxErrorRateIncrease": 0.01, "maxLatencyIncrease": 0.2, "confidence": 0.95, "failureLimit": 1}
BASELINES = ("stable",)
# Child Services are named <name>-stable / <name>-canary and must stay DNS-1035 labels (63).
MAX_NAME = 56

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
            "baseline": str,
            "maxErrorRateIncrease": NUMBER,
            "maxLatencyIncrease": NUMBER,
            "confidence": NUMBER,
        },
    },
}


def read_spec(spec: dict) -> tuple[dict, list[str]]:
    """The spec with its defaults and no type errors, or as written with the errors."""
    wrong_types = shape_errors(spec, SPEC_SHAPE, "spec")
    return (spec if wrong_types else with_defaults(spec)), wrong_types


def with_defaults(spec: dict) -> dict:
    canary = {"replicas": 1, "progressDeadlineSeconds": 600, "steps": DEFAULT_STEPS, **(spec.get("canary") or {})}
    written = (spec.get("canary") or {}).get("analysis") or {}
    judged = BASELINE_DEFAULTS if "baseline" in written else THRESHOLD_DEFAULTS
    canary["analysis"] = {**DEFAULT_ANALYSIS, **judged, **written}
    merged = {"replicas": 2, "paused": False, "rollbackWindow": "10m", **spec, "canary": canary}
    merged["storage"] = {"claimName": "aurora-models", **(spec.get("storage") or {})}
    if isinstance(spec.get("autoscaling"), dict):
        merged["autoscaling"] = {"targetCPUUtilizationPercentage": 70, **spec["autoscaling"]}
    return merged


def has_mirror_step(spec: dict) -> bool:
    steps = (spec.get("canary") or {}).get("steps")
    return isinstance(steps, list) and any(isinstance(step, dict) and "mirror" in step for step in steps)


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
    baseline = analysis.get("baseline")
    if baseline is not None and baseline not in BASELINES:
        errors.append(f"spec.canary.analysis.baseline {baseline!r} must be one of {', '.join(BASELINES)}")
    required = (
        "minRequests",
        "failureLimit",
        "maxInconclusive",
        *(BASELINE_DEFAULTS if baseline else THRESHOLD_DEFAULTS),
    )
    for field, (low, high) in ANALYSIS_RANGES.items():
        value = analysis.get(field)
        if value is None and field not in required:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low or value > high:
            errors.append(f"spec.canary.analysis.{field} {value!r} must be a number from {low:g} to {high:g}")
    if analysis.get("confidence") == 1:
        errors.append("spec.canary.analysis.confidence must be below 1: no test is certain")
    return errors


# Each analysis number's range (inclusive); those not required may be left out.
ANALYSIS_RANGES = {
    "minRequests": (0, math.inf),
    "failureLimit": (1, math.inf),
    "maxInconclusive": (1, math.inf),
    "maxErrorRate": (0, 1),
    "maxLatencyP99Seconds": (0, math.inf),
    "maxPredictionShift": (0, math.inf),
    "maxErrorRateIncrease": (0, 1),
    "maxLatencyIncrease": (0, math.inf),
    "confidence": (0.5, 1),
}
