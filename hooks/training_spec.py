"""An MLTrainingJob's spec as written: its shape, its defaults, and what makes it invalid.

An invalid spec starts no run and keeps an observed Job as it is (mltrainingjob.py)."""

from __future__ import annotations

from aurora_api.names import is_valid_model_name
from aurora_api.training import BUILTIN_DATASETS, GATE_DIRECTIONS
from hooks.config import HookConfig
from hooks.shapes import NUMBER
from trainer.parameters import parameter_errors

DEFAULTS = {
    "evaluation": {"testFraction": 0.2, "seed": 42},
    "promote": True,
    "storage": {"claimName": "aurora-models"},
    "backoffLimit": 2,
    "activeDeadlineSeconds": 3600,
    "ttlSecondsAfterFinished": 86400,
}

SPEC_SHAPE = {
    "model": str,
    "dataset": {"builtin": str, "csv": {"path": str, "target": str}},
    "estimator": {"type": str, "params": dict},
    "evaluation": {"testFraction": NUMBER, "seed": int, "gate": dict},
    "promote": bool,
    "image": str,
    "resources": dict,
    "storage": {"claimName": str},
    **{k: int for k in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished")},
}


def with_defaults(spec: dict) -> dict:
    merged = {**DEFAULTS, **spec}
    merged["evaluation"] = {**DEFAULTS["evaluation"], **(spec.get("evaluation") or {})}
    merged["storage"] = {**DEFAULTS["storage"], **(spec.get("storage") or {})}
    return merged


def spec_errors(spec: dict, name: str, config: HookConfig, wrong_types: list[str]) -> list[str]:
    """Every problem of the spec (and of the name, which becomes a label value), each naming the field."""
    errors = [] if len(name) <= 63 else [f"metadata.name is {len(name)} characters; at most 63 (it labels the pods)"]
    if wrong_types:
        return errors + wrong_types
    model = spec.get("model")
    if not isinstance(model, str) or not is_valid_model_name(model):
        errors.append(f"spec.model {model!r} must be a DNS-1123 label")
    errors += dataset_errors(spec.get("dataset"), config.models_mount)
    estimator = spec.get("estimator") or {}
    params = estimator.get("params") or {}
    if not isinstance(params, dict):
        errors.append("spec.estimator.params must be an object")
    else:
        problem = parameter_errors(estimator.get("type"), params)
        errors += [f"spec.estimator: {problem}"] if problem else []
    errors += evaluation_errors(spec["evaluation"])
    for field, low in (("backoffLimit", 0), ("activeDeadlineSeconds", 1), ("ttlSecondsAfterFinished", 0)):
        if not isinstance(spec.get(field), int) or spec[field] < low:
            errors.append(f"spec.{field} {spec.get(field)!r} must be an integer >= {low}")
    if not spec["storage"].get("claimName"):
        errors.append("spec.storage.claimName must name a PersistentVolumeClaim")
    return errors


def dataset_errors(dataset, mount: str) -> list[str]:
    if not isinstance(dataset, dict) or len({"builtin", "csv"} & set(dataset)) != 1:
        return ["spec.dataset must have exactly one of builtin or csv"]
    if "builtin" in dataset and dataset["builtin"] not in BUILTIN_DATASETS:
        return [f"spec.dataset.builtin {dataset['builtin']!r} must be one of {', '.join(BUILTIN_DATASETS)}"]
    csv = dataset.get("csv")
    if "csv" in dataset and not (isinstance(csv, dict) and csv.get("target")):
        return ["spec.dataset.csv needs a path and a target column"]
    if "csv" in dataset and not str(csv.get("path", "")).startswith(f"{mount}/"):
        return [f"spec.dataset.csv.path {csv.get('path')!r} must be on the models volume, under {mount}/"]
    return []


def evaluation_errors(evaluation: dict) -> list[str]:
    errors = []
    fraction = evaluation.get("testFraction")
    if not isinstance(fraction, int | float) or not 0 < fraction < 1:
        errors.append(f"spec.evaluation.testFraction {fraction!r} must be between 0 and 1 (exclusive)")
    if not isinstance(evaluation.get("seed"), int) or evaluation["seed"] < 0:
        errors.append(f"spec.evaluation.seed {evaluation.get('seed')!r} must be a non-negative integer")
    gate = evaluation.get("gate")
    if gate is not None:
        errors += gate_errors(gate)
    return errors


def gate_errors(gate) -> list[str]:
    metric = gate.get("metric") if isinstance(gate, dict) else None
    if metric not in GATE_DIRECTIONS:
        return [f"spec.evaluation.gate.metric {metric!r} must be one of {', '.join(GATE_DIRECTIONS)}"]
    bound = "min" if GATE_DIRECTIONS[metric] == ">=" else "max"
    if set(gate) - {"metric", bound} or not isinstance(gate.get(bound), int | float):
        return [f"spec.evaluation.gate for {metric} takes exactly '{bound}', a number"]
    return []
