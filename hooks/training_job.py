"""The training Job of an MLTrainingJob: one batch/v1 Job running `aurora-train` once, with
only the fields Aurora owns."""

from __future__ import annotations

import hashlib
import json

from aurora_api import labels as label
from aurora_api.training import GATE_DIRECTIONS
from hooks.config import HookConfig
from hooks.podsecurity import container_security_context, pod_security_context

CONTAINER = "trainer"
# Trainer exit codes the controller acts on (trainer/errors.py): never retried.
EXIT_BAD_INPUT, EXIT_GATE_FAILED = 2, 3


def job_name(parent: dict) -> str:
    """A stable Job name of at most 63 characters (Job names become label values)."""
    name = parent["metadata"]["name"]
    if len(name) <= 57:
        return f"{name}-train"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:48].rstrip('-.')}-{digest}-train"


def trainer_args(spec: dict, version: str, config: HookConfig) -> list[str]:
    dataset = spec["dataset"]
    source = (
        f"builtin:{dataset['builtin']}"
        if "builtin" in dataset
        else f"csv:{dataset['csv']['path']}:{dataset['csv']['target']}"
    )
    evaluation = spec["evaluation"]
    args = ["--model", spec["model"], "--dataset", source, "--estimator", spec["estimator"]["type"]]
    args += ["--params", json.dumps(spec["estimator"].get("params") or {}, sort_keys=True, separators=(",", ":"))]
    args += ["--test-fraction", str(evaluation["testFraction"]), "--seed", str(evaluation["seed"])]
    gate = evaluation.get("gate")
    if gate:
        bound = "min" if GATE_DIRECTIONS[gate["metric"]] == ">=" else "max"
        args += ["--gate", f"{gate['metric']}{GATE_DIRECTIONS[gate['metric']]}{gate[bound]}"]
    if not spec["promote"]:
        args.append("--no-promote")
    return args + ["--version", version, "--model-root", config.models_mount]


def new_job(parent: dict, spec: dict, version: str, config: HookConfig) -> dict:
    """The training Job, with only the fields we own."""
    labels = {
        label.MODEL: spec["model"],
        label.VERSION: version,
        label.RUN: parent["metadata"]["name"],
        "app.kubernetes.io/name": "aurora-trainer",
        "app.kubernetes.io/managed-by": "aurora",
    }
    pod_labels = {**labels, label.RUN_UID: parent["metadata"].get("uid", "")}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job_name(parent), "labels": labels},
        "spec": {
            "backoffLimit": spec["backoffLimit"],
            "activeDeadlineSeconds": spec["activeDeadlineSeconds"],
            "podFailurePolicy": pod_failure_policy(),
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": new_pod_spec(spec, version, config, pod_labels[label.RUN_UID]),
            },
        },
    }


def pod_failure_policy() -> dict:
    """Bad input and a failed gate end the Job at once; evictions do not count as failures."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": [EXIT_BAD_INPUT, EXIT_GATE_FAILED],
                },
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }


def new_pod_spec(spec: dict, version: str, config: HookConfig, run_id: str) -> dict:
    mounts = [{"name": "models", "mountPath": config.models_mount}, {"name": "scratch", "mountPath": "/tmp"}]
    volumes = [
        {"name": "models", "persistentVolumeClaim": {"claimName": spec["storage"]["claimName"]}},
        {"name": "scratch", "emptyDir": {"sizeLimit": config.scratch_size}},
    ]
    container = {
        "name": CONTAINER,
        "image": spec.get("image") or config.trainer_image,
        "command": ["aurora-train"],
        "args": trainer_args(spec, version, config),
        # The dataset cache lives on the shared volume: downloaded once, reused offline.
        "env": [
            # A retried pod finds its own published version by this id and succeeds instead of failing.
            {"name": "AURORA_RUN_ID", "value": run_id},
            {"name": "SCIKIT_LEARN_DATA", "value": f"{config.models_mount}/.datasets"},
            {"name": "HOME", "value": "/tmp"},
        ],
        "resources": spec.get("resources") or {},
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "File",
        "volumeMounts": mounts,
    }
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
