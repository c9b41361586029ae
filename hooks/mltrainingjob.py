"""Sync and customize hooks of the MLTrainingJob controller (aurora.dev/v1alpha1).

One MLTrainingJob is one training run: one batch/v1 Job that publishes one model
version. Request and response are Metacontroller's CompositeController hook bodies
(https://metacontroller.github.io/metacontroller/api/compositecontroller.html).
Everything here is pure: the clock comes in as `now`, the status is computed from
what was observed (the Job, its pods' termination messages, the previous status).
The spec is checked in training_spec.py, the Job is built in training_job.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from aurora_api import labels as label
from aurora_api import resources
from aurora_api.names import is_valid_version, version_at
from aurora_api.phases import RunPhase
from aurora_api.reasons import ConditionType, RunReason
from aurora_api.times import parse_rfc3339
from hooks.children import missing_children, retry_seconds, sooner
from hooks.conditions import Condition, merge_conditions
from hooks.config import HookConfig
from hooks.request import observed_group, parent_parts
from hooks.shapes import cleaned, shape_errors
from hooks.training_job import CONTAINER, EXIT_BAD_INPUT, EXIT_GATE_FAILED, job_name, new_job
from hooks.training_spec import SPEC_SHAPE, spec_errors, with_defaults

JOB_KEY = "Job.batch/v1"
POD_KEY = "Pod.v1"
RUN_KEY = resources.TRAINING_JOB_KEY
# Runs of one model created this close together choose their versions one after the other;
# an older run that has not chosen by then (its hook keeps failing) is no longer waited for.
SIBLING_WAIT_SECONDS = 60
SIBLING_RESYNC_SECONDS = 2.0
METRIC_NAMES = ("r2", "rmse", "mae", "rows", "trainSeconds")
# The trainer's reasons for exit code 2 that are the models volume's, not the run's input.
STORE_FAILURES = {
    RunReason.STORE_NOT_WRITABLE: "the trainer cannot write to the models volume",
    RunReason.NO_SPACE: "the models volume is full",
}
STATUS_SHAPE = {
    **{k: str for k in ("phase", "jobName", "modelVersion", "startTime", "completionTime")},
    "metrics": dict,
    "gatePassed": bool,
    "promoted": bool,
    "conditions": [dict],
}


# Predicates


def is_finished(status: dict) -> bool:
    return status.get("phase") in (RunPhase.SUCCEEDED, RunPhase.FAILED) and bool(status.get("completionTime"))


def has_job_condition(job: dict, kind: str) -> dict | None:
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


# Reading the request


@dataclass(frozen=True, slots=True)
class ObservedRun:
    """One MLTrainingJob sync request, read once: decisions and builders take this, not the request."""

    parent: dict
    spec: dict  # with its defaults; as written when a field has the wrong type
    wrong_types: list[str]  # the spec's fields of the wrong type
    status: dict  # the previous status, its ill-typed fields dropped
    job: dict | None  # the run's Job, as observed
    pods: list[dict]  # related: the run's trainer pods
    runs: dict[str, dict]  # related: the namespace's MLTrainingJobs, by name

    @property
    def generation(self) -> int:
        return self.parent["metadata"].get("generation", 0)


def read_observed_run(request: dict) -> ObservedRun:
    parent, spec, status, wrong_types = read_parent(request)
    return ObservedRun(
        parent=parent,
        spec=spec,
        wrong_types=wrong_types,
        status=status,
        job=observed_group(request, JOB_KEY).get(job_name(parent)),
        pods=list(observed_group(request, POD_KEY, "related").values()),
        runs=observed_group(request, RUN_KEY, "related"),
    )


def read_parent(request: dict) -> tuple[dict, dict, dict, list[str]]:
    """Parent, spec with defaults (as written if ill-typed), well-typed previous status, and the spec's type errors."""
    parent, spec, status = parent_parts(request)
    wrong_types = shape_errors(spec, SPEC_SHAPE, "spec")
    spec = spec if wrong_types else with_defaults(spec)
    status = cleaned(status, STATUS_SHAPE)
    if "metrics" in status:
        # Only finite numbers under known names: a hand-edited metric must not break the message.
        status["metrics"] = reported_metrics(status["metrics"])
    if not is_valid_version(status.get("modelVersion", "")):
        status.pop("modelVersion", None)
    for field in ("startTime", "completionTime"):
        if field in status and parse_rfc3339(status[field]) is None:
            del status[field]
    return parent, spec, status, wrong_types


def trainer_report(pods: list[dict]) -> tuple[int | None, dict]:
    """Exit code and JSON summary of the newest finished trainer container among the run's pods."""
    finished = []
    for pod in pods:
        for container in pod.get("status", {}).get("containerStatuses") or []:
            terminated = (container.get("state") or {}).get("terminated")
            if container.get("name") == CONTAINER and terminated:
                finished.append((terminated.get("finishedAt") or "", terminated))
    if not finished:
        return None, {}
    terminated = max(finished, key=lambda item: item[0])[1]
    try:
        summary = json.loads(terminated.get("message") or "{}")
    except json.JSONDecodeError:
        summary = {}
    return terminated.get("exitCode"), summary if isinstance(summary, dict) else {}


# Status


def recorded_version(job: dict | None, previous: dict) -> str:
    """The version a run already has: the one its Job carries, else the one in its status."""
    from_job = ((job or {}).get("metadata") or {}).get("labels", {}).get(label.VERSION)
    return from_job or previous.get("modelVersion", "")


def free_version(now: datetime, taken: set[str]) -> str:
    """The first second from `now` on whose version no other run of the model holds."""
    moment = now
    while version_at(moment) in taken:
        moment += timedelta(seconds=1)
    return version_at(moment)


def sibling_runs(seen: ObservedRun) -> list[dict]:
    """The other MLTrainingJobs of the same model in the namespace (related objects)."""
    uid, name, model = seen.parent["metadata"].get("uid"), seen.parent["metadata"]["name"], seen.spec.get("model")
    return [
        run
        for run in seen.runs.values()
        if (run.get("spec") or {}).get("model") == model
        and (run.get("metadata") or {}).get("name") != name
        and (run.get("metadata") or {}).get("uid") != uid
    ]


def sibling_version(run: dict) -> str:
    status = run.get("status") if isinstance(run.get("status"), dict) else {}
    version = status.get("modelVersion")
    return version if isinstance(version, str) and is_valid_version(version) else ""


def runs_choosing_first(siblings: list[dict], parent: dict, now: datetime) -> list[str]:
    """Older runs of the model, created lately, that have not chosen a version yet: they choose first."""

    def created(obj: dict) -> str:
        return str((obj.get("metadata") or {}).get("creationTimestamp") or "")

    mine = (created(parent), parent["metadata"]["name"])
    since = now - timedelta(seconds=SIBLING_WAIT_SECONDS)
    waiting = []
    for run in siblings:
        status = run.get("status") if isinstance(run.get("status"), dict) else {}
        born = parse_rfc3339(created(run))
        if sibling_version(run) or status.get("phase") == RunPhase.FAILED or born is None or born < since:
            continue
        if (created(run), run["metadata"]["name"]) < mine:
            waiting.append(run["metadata"]["name"])
    return sorted(waiting)


def failure_reason(job: dict, exit_code: int | None, summary: dict) -> tuple[str, str]:
    """Why a failed Job failed, in words."""
    if exit_code == EXIT_GATE_FAILED:
        return (
            RunReason.QUALITY_GATE_FAILED,
            "the model did not pass the quality gate; its version is published unpromoted",
        )
    if exit_code == EXIT_BAD_INPUT and summary.get("reason") in STORE_FAILURES:
        return summary["reason"], STORE_FAILURES[summary["reason"]]
    if exit_code == EXIT_BAD_INPUT:
        return RunReason.INVALID_INPUT, "the trainer rejected its input (dataset or parameters)"
    condition = has_job_condition(job, "Failed") or {}
    reason = condition.get("reason") or RunReason.JOB_FAILED
    return reason, condition.get("message") or f"the training Job failed ({reason})"


def reported_metrics(metrics) -> dict:
    """The trainer's metrics that are finite numbers, under the names the status declares."""
    if not isinstance(metrics, dict):
        return {}
    return {
        name: metrics[name]
        for name in METRIC_NAMES
        if isinstance(metrics.get(name), int | float)
        and not isinstance(metrics[name], bool)
        and math.isfinite(metrics[name])
    }


def job_outcome(job: dict, pods: list[dict]) -> dict:
    """Phase and what the trainer reported, read from the observed Job and its pods."""
    exit_code, summary = trainer_report(pods)
    job_status = job.get("status") or {}
    outcome = {"startTime": job_status.get("startTime")}
    metrics = reported_metrics(summary.get("metrics"))
    if metrics:
        outcome["metrics"] = metrics
    for field in ("gatePassed", "promoted"):
        if isinstance(summary.get(field), bool):
            outcome[field] = summary[field]
    if has_job_condition(job, "Complete"):
        return {**outcome, "phase": RunPhase.SUCCEEDED, "completionTime": job_status.get("completionTime")}
    failed = has_job_condition(job, "Failed")
    if failed:
        reason, message = failure_reason(job, exit_code, summary)
        detail = summary.get("error") or summary.get("reason")
        message = f"{message}: {detail}" if detail else message
        return {
            **outcome,
            "phase": RunPhase.FAILED,
            "completionTime": failed.get("lastTransitionTime"),
            "reason": reason,
            "message": message,
        }
    # A pod counts as running once it is ready (pending pods are "active" too).
    running = job_status.get("ready", job_status.get("active", 0))
    return {**outcome, "phase": RunPhase.RUNNING if running else RunPhase.PENDING}


RECORDED = ("startTime", "completionTime", "metrics", "gatePassed", "promoted")


def recorded_outcome(previous: dict) -> dict:
    """What a finished run recorded in its status, for when its Job and pods are gone."""
    outcome = {"phase": previous["phase"], **{k: previous[k] for k in RECORDED if k in previous}}
    for condition in previous.get("conditions") or []:
        if condition.get("type") == ConditionType.FAILED and condition.get("status") == "True":
            outcome["reason"], outcome["message"] = condition.get("reason"), condition.get("message")
    return outcome


def compute_status(seen: ObservedRun, version: str, errors: list[str], now: datetime) -> dict:
    """The status for what was observed; a finished run keeps what it recorded once its Job is gone."""
    parent, previous, job = seen.parent, seen.status, seen.job
    if is_finished(previous):
        # A finished run's outcome is final, whatever is observed later.
        outcome = recorded_outcome(previous)
    elif job is not None:
        outcome = job_outcome(job, seen.pods)
    elif errors:
        outcome = {"phase": RunPhase.FAILED}
    elif previous.get("phase"):
        # Asked for before and still not there: its create did not succeed.
        waiting = f"waiting for Job {job_name(parent)} to be created (an older object may still hold its name)"
        outcome = {"phase": RunPhase.PENDING, "waiting": waiting}
    else:
        outcome = {"phase": RunPhase.PENDING}
    status = {"phase": outcome["phase"], "jobName": "" if errors and job is None else job_name(parent)}
    status["modelVersion"] = version
    for field in RECORDED:
        value = outcome.get(field) if outcome.get(field) is not None else previous.get(field)
        if value is not None:
            status[field] = value
    status["conditions"] = merge_conditions(
        previous.get("conditions"), conditions(outcome, errors), now=now, generation=seen.generation
    )
    return status


def conditions(outcome: dict, errors: list[str]) -> list[Condition]:
    phase = outcome["phase"]
    invalid = (
        Condition(ConditionType.INVALID_SPEC, True, RunReason.INVALID_SPEC, "; ".join(errors))
        if errors
        else Condition(ConditionType.INVALID_SPEC, False, RunReason.SPEC_VALID, "the spec is valid")
    )
    published = phase == RunPhase.SUCCEEDED
    complete = Condition(
        ConditionType.COMPLETE, published, RunReason.PUBLISHED if published else phase, completion_message(outcome)
    )
    refused = errors and phase == RunPhase.FAILED
    failed_reason = outcome.get("reason") or (RunReason.INVALID_SPEC if refused else RunReason.NOT_FAILED)
    failed = Condition(
        ConditionType.FAILED,
        phase == RunPhase.FAILED,
        failed_reason,
        outcome.get("message") or ("; ".join(errors) if phase == RunPhase.FAILED else ""),
    )
    return [complete, failed, invalid]


def completion_message(outcome: dict) -> str:
    if outcome.get("waiting"):
        return outcome["waiting"]
    metrics = outcome.get("metrics") or {}
    if outcome["phase"] != RunPhase.SUCCEEDED or not {"r2", "rmse", "mae"} <= set(metrics):
        return ""
    promoted = "promoted to latest" if outcome.get("promoted") else "not promoted"
    return f"r2 {metrics['r2']:.4f}, rmse {metrics['rmse']:.4g}, mae {metrics['mae']:.4g}; {promoted}"


# Children


def retention_ends(status: dict, spec: dict) -> datetime | None:
    finished = parse_rfc3339(status.get("completionTime"))
    return finished + timedelta(seconds=spec["ttlSecondsAfterFinished"]) if finished else None


def desired_children(
    seen: ObservedRun, status: dict, version: str, errors: list[str], config: HookConfig, now: datetime
) -> tuple[list, float | None]:
    """The Job to keep or create, and when to look again (the end of retention).

    Retention runs from the status already saved, never from the one being written:
    a Job is let go only once its completion is on record, so a sync that still sees
    the older status can never find the Job gone and start the run again.
    """
    spec, previous, job = seen.spec, seen.status, seen.job
    if job is None and (errors or is_finished(previous) or is_finished(status)):
        # Never create a Job again for a run whose completion is recorded.
        return [], None
    if errors:
        # Keep the observed Job as it is: OnDelete never updates it, and omitting it would delete it.
        metadata = {"name": job["metadata"]["name"], "labels": job["metadata"].get("labels", {})}
        return [{"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata}], None
    recorded = previous if is_finished(previous) else status
    ends = retention_ends(recorded, spec) if is_finished(recorded) else None
    if ends is not None and now >= ends and is_finished(previous):
        return [], None
    resync = max((ends - now).total_seconds(), 1.0) if ends else None
    return [new_job(seen.parent, spec, version, config)], resync


def sync(request: dict, *, now: datetime, config: HookConfig | None = None) -> dict:
    """Metacontroller sync hook: the training Job and the MLTrainingJob's status."""
    config = config or HookConfig()
    seen = read_observed_run(request)
    errors = spec_errors(seen.spec, seen.parent["metadata"]["name"], config, seen.wrong_types)
    version, waiting = run_version(seen, errors, now)
    if waiting:
        return waiting_for_siblings(seen, waiting, now)
    status = compute_status(seen, version, errors, now)
    children, resync = desired_children(seen, status, version, errors, config, now)
    observed_jobs = {seen.job["metadata"]["name"]: seen.job} if seen.job else {}
    if missing_children({JOB_KEY: observed_jobs}, children):
        resync = sooner(resync, retry_seconds(seen.parent, now))
    response = {"status": status, "children": children}
    if resync:
        response["resyncAfterSeconds"] = resync
    return response


def run_version(seen: ObservedRun, errors: list[str], now: datetime) -> tuple[str, list[str]]:
    """The run's version, chosen at its first sync; or none yet, and the older runs it waits for."""
    version = recorded_version(seen.job, seen.status)
    if version or errors:
        # An invalid spec starts no run, so it gets no version of its own.
        return version, []
    siblings = sibling_runs(seen)
    waiting = runs_choosing_first(siblings, seen.parent, now)
    return ("", waiting) if waiting else (free_version(now, {sibling_version(r) for r in siblings}), [])


def waiting_for_siblings(seen: ObservedRun, waiting: list[str], now: datetime) -> dict:
    """No version, no Job yet: two runs of a model started in the same second must not share a version."""
    message = f"waiting for {', '.join(waiting)} (same model, created earlier) to choose its version first"
    found = [
        Condition(ConditionType.COMPLETE, False, RunReason.WAITING_FOR_VERSION, message),
        Condition(ConditionType.FAILED, False, RunReason.NOT_FAILED, ""),
        Condition(ConditionType.INVALID_SPEC, False, RunReason.SPEC_VALID, "the spec is valid"),
    ]
    conditions_ = merge_conditions(seen.status.get("conditions"), found, now=now, generation=seen.generation)
    status = {"phase": RunPhase.PENDING, "jobName": job_name(seen.parent), "conditions": conditions_}
    return {"status": status, "children": [], "resyncAfterSeconds": SIBLING_RESYNC_SECONDS}


def customize(request: dict) -> dict:
    """Metacontroller customize hook: this run's trainer pods (their termination messages carry the
    metrics) and the namespace's other runs (so that runs of one model never share a version)."""
    parent, _, _, _ = read_parent(request)
    uid, namespace = parent["metadata"].get("uid", ""), parent["metadata"].get("namespace", "")
    selector = (
        {"matchLabels": {label.RUN_UID: uid}} if uid else {"matchLabels": {label.RUN: parent["metadata"]["name"]}}
    )
    # The namespace is named: a rule without one selects objects of every namespace.
    return {
        "relatedResources": [
            {"apiVersion": "v1", "resource": "pods", "namespace": namespace, "labelSelector": selector},
            {
                "apiVersion": resources.API_VERSION,
                "resource": resources.TRAINING_JOBS,
                "namespace": namespace,
                "labelSelector": {},
            },
        ]
    }
