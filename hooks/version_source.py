"""Where an MLDeployment's desired version comes from: spec.version, or what an MLTrainingJob published.

With `versionFrom.trainingJob`, the version is that run's `status.modelVersion` once it has
Succeeded with its gate not failed. Until then, and after a failed run or gate, the
MLDeployment keeps the version it last resolved (or the one its stable track runs): a
training run never takes down what serves, and a failed one never deploys.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from aurora_api import resources
from aurora_api.names import is_valid_version
from aurora_api.phases import RunPhase
from aurora_api.reasons import ConditionType, Reason
from hooks.conditions import Condition

TRAINING_JOB_KEY = resources.TRAINING_JOB_KEY
TRAINING_JOB_RESOURCE = {"apiVersion": resources.API_VERSION, "resource": resources.TRAINING_JOBS}
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
CONDITION = ConditionType.VERSION_RESOLVED


class Resolved(NamedTuple):
    version: str  # the version to serve; '' when nothing can be served yet
    condition: Condition


def version_source_errors(spec: dict) -> list[str]:
    """Exactly one of spec.version and spec.versionFrom.trainingJob, each well formed."""
    has_version, source = "version" in spec, spec.get("versionFrom")
    if has_version == (source is not None):
        return ["exactly one of spec.version and spec.versionFrom must be set"]
    if has_version:
        if isinstance(spec["version"], str) and is_valid_version(spec["version"]):
            return []
        return [f"spec.version {spec['version']!r} must be of the form vYYYYMMDD-HHMMSS"]
    name = source.get("trainingJob")
    if isinstance(name, str) and len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name):
        return []
    return [f"spec.versionFrom.trainingJob {name!r} must name an MLTrainingJob in the namespace"]


def training_job_name(spec: dict) -> str | None:
    source = spec.get("versionFrom")
    return source.get("trainingJob") if isinstance(source, dict) else None


def related_rules(spec: dict, namespace: str) -> list[dict]:
    """The customize hook's answer: the one MLTrainingJob the spec follows, if any.

    The namespace is named: a rule of names alone selects objects of those names in every
    namespace, and the request would carry another namespace's run of the same name."""
    name = training_job_name(spec)
    if not (isinstance(name, str) and name):
        return []
    return [{**TRAINING_JOB_RESOURCE, "namespace": namespace, "names": [name]}]


def resolve_version(spec: dict, training_jobs: dict[str, dict], status: dict, running: str) -> Resolved:
    """The version to serve and the VersionResolved condition saying where it came from.

    `training_jobs` are the observed MLTrainingJobs by name, `running` the stable track's version."""
    if "version" in spec:
        wanted = spec["version"]
        return Resolved(wanted, Condition(CONDITION, True, Reason.SPEC_VERSION, f"spec.version is {wanted}"))
    name = training_job_name(spec)
    job = training_jobs.get(name)
    version, reason, message = training_outcome(job, name, spec.get("model"))
    if version:
        return Resolved(version, Condition(CONDITION, True, reason, message))
    recorded = status.get("desiredVersion")
    kept = recorded if isinstance(recorded, str) and is_valid_version(recorded) else running
    serving = f"; keeping {kept}" if kept else "; nothing is deployed until it publishes a version"
    return Resolved(kept, Condition(CONDITION, False, reason, message + serving))


def training_outcome(job: dict | None, name: str, model) -> tuple[str, str, str]:
    """(version or '', reason, message) for the MLTrainingJob as observed."""
    if job is None:
        return "", Reason.WAITING_FOR_TRAINING, f"MLTrainingJob {name} does not exist (yet)"
    trains = (job.get("spec") or {}).get("model")
    if trains != model:
        return "", Reason.MODEL_MISMATCH, f"MLTrainingJob {name} trains model {trains!r}, not {model!r}"
    status = job.get("status") if isinstance(job.get("status"), dict) else {}
    phase, version = status.get("phase"), status.get("modelVersion")
    if status.get("gatePassed") is False:
        return "", Reason.GATE_FAILED, f"MLTrainingJob {name} failed its quality gate: {failure_message(status)}"
    if phase == RunPhase.FAILED:
        return "", Reason.TRAINING_FAILED, f"MLTrainingJob {name} failed: {failure_message(status)}"
    if phase == RunPhase.SUCCEEDED and isinstance(version, str) and is_valid_version(version):
        return version, Reason.TRAINING_SUCCEEDED, f"MLTrainingJob {name} published {version}"
    return "", Reason.WAITING_FOR_TRAINING, f"MLTrainingJob {name} is {phase or 'not started'}"


def failure_message(status: dict) -> str:
    for condition in status.get("conditions") or []:
        if (
            isinstance(condition, dict)
            and condition.get("type") == ConditionType.FAILED
            and condition.get("status") == "True"
        ):
            return str(condition.get("message") or condition.get("reason") or "no message")
    return "no message"
