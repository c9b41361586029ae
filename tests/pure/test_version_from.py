"""Train, then serve: an MLDeployment that follows an MLTrainingJob (spec.versionFrom.trainingJob).

The MLTrainingJob arrives as a related object, as Metacontroller sends it after the customize hook.
"""

from __future__ import annotations

import pytest

from hooks import mldeployment
from tests.support.ticked_rollout import NEW, OLD, TickedRollout, new_parent, run_until

JOB_KEY = "MLTrainingJob.aurora.dev/v1alpha1"


def training_job(phase: str | None, version: str = NEW, gate: bool | None = None, model: str = "housing") -> dict:
    status = {"phase": phase, "modelVersion": version} if phase else {}
    if gate is not None:
        status["gatePassed"] = gate
    if phase == "Failed":
        message = "quality gate failed: r2 0.31 < 0.6" if gate is False else "the trainer exited with code 2"
        status["conditions"] = [{"type": "Failed", "status": "True", "reason": "TrainerFailed", "message": message}]
    return {
        "apiVersion": "aurora.dev/v1alpha1",
        "kind": "MLTrainingJob",
        "metadata": {"name": "housing-rf", "namespace": "ml"},
        "spec": {"model": model, "dataset": "builtin:california_housing"},
        "status": status,
    }


def following(job: dict | None) -> TickedRollout:
    parent = new_parent()
    del parent["spec"]["version"]
    parent["spec"]["versionFrom"] = {"trainingJob": "housing-rf"}
    rollout = TickedRollout(parent)
    rollout.cluster.related_key = JOB_KEY
    train(rollout, job)
    return rollout


def train(rollout: TickedRollout, job: dict | None) -> None:
    rollout.cluster.related = {"housing-rf": job} if job else {}


def condition(status: dict, kind: str = "VersionResolved") -> dict:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_the_customize_hook_asks_for_the_followed_training_job_of_its_own_namespace_only():
    rollout = following(None)
    answer = mldeployment.customize(rollout.cluster.request())
    namespace = rollout.cluster.parent["metadata"]["namespace"]
    rule = {
        "apiVersion": "aurora.dev/v1alpha1",
        "resource": "mltrainingjobs",
        "namespace": namespace,
        "names": ["housing-rf"],
    }
    assert answer == {"relatedResources": [rule]}
    assert mldeployment.customize({"parent": new_parent()}) == {"relatedResources": []}


@pytest.mark.parametrize("job", [None, training_job("Running")], ids=["not-created", "running"])
def test_nothing_is_deployed_until_the_run_publishes(job):
    rollout = following(job)
    status = rollout.tick()
    assert rollout.cluster.children["Deployment.apps/v1"] == {} and "phase" not in status
    resolved = condition(status)
    assert (resolved["status"], resolved["reason"]) == ("False", "WaitingForTraining")
    assert "nothing is deployed" in resolved["message"]
    assert condition(status, "Available")["status"] == "False"


def test_a_run_that_passes_its_gate_is_served_and_the_next_becomes_a_canary_with_no_edit():
    rollout = following(training_job("Running", OLD))
    rollout.tick()
    train(rollout, training_job("Succeeded", OLD, gate=True))
    rollout.tick(5)
    rollout.tick(5)
    status = rollout.status
    assert (status["phase"], status["stableVersion"], status["desiredVersion"]) == ("Stable", OLD, OLD)
    assert condition(status)["reason"] == "TrainingSucceeded" and rollout.traffic() == {OLD: 1.0}
    # The run is created again (a new run, a new version): the MLDeployment is not edited.
    generation = rollout.cluster.parent["metadata"]["generation"]
    train(rollout, training_job("Running", NEW))
    assert rollout.tick()["phase"] == "Stable" and rollout.status["desiredVersion"] == OLD
    assert condition(rollout.status)["reason"] == "WaitingForTraining"
    train(rollout, training_job("Succeeded", NEW, gate=True))
    status = rollout.tick()
    assert (status["phase"], status["canaryVersion"], status["desiredVersion"]) == ("Progressing", NEW, NEW)
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW and rollout.cluster.parent["metadata"]["generation"] == generation


@pytest.mark.parametrize(
    "job, reason, says",
    [
        (training_job("Failed", NEW, gate=False), "GateFailed", "r2 0.31 < 0.6"),
        (training_job("Failed", NEW), "TrainingFailed", "exited with code 2"),
        (training_job("Succeeded", NEW, gate=False), "GateFailed", "failed its quality gate"),
        (training_job("Succeeded", NEW, gate=True, model="churn"), "ModelMismatch", "trains model 'churn'"),
        (None, "WaitingForTraining", "does not exist"),
    ],
    ids=["gate-failed", "training-failed", "succeeded-but-gate-failed", "other-model", "run-deleted"],
)
def test_a_run_that_fails_never_deploys_and_what_serves_keeps_serving(job, reason, says):
    rollout = following(training_job("Succeeded", OLD, gate=True))
    rollout.tick(5)
    rollout.tick(5)
    train(rollout, job)
    for _ in range(5):
        status = rollout.tick()
        assert status["phase"] == "Stable" and status["canaryVersion"] == "" and rollout.traffic() == {OLD: 1.0}
    resolved = condition(status)
    assert (resolved["status"], resolved["reason"]) == ("False", reason)
    assert says in resolved["message"] and f"keeping {OLD}" in resolved["message"]


@pytest.mark.parametrize(
    "spec, error",
    [
        ({"versionFrom": {"trainingJob": "housing-rf"}}, "exactly one of spec.version and spec.versionFrom"),
        ({"version": None, "versionFrom": None}, "exactly one of spec.version and spec.versionFrom"),
        ({"version": None, "versionFrom": {"trainingJob": "Not_A_Name"}}, "must name an MLTrainingJob"),
    ],
    ids=["both", "neither", "bad-name"],
)
def test_a_wrong_version_source_is_an_invalid_spec_that_keeps_what_runs(spec, error):
    rollout = TickedRollout(new_parent())
    rollout.tick(5)
    rollout.tick(5)
    body = rollout.cluster.parent["spec"]
    body.update(spec)
    for key in [k for k, v in spec.items() if v is None]:
        del body[key]
    status = rollout.tick()
    invalid = condition(status, "InvalidSpec")
    assert invalid["status"] == "True" and error in invalid["message"]
    assert rollout.deployment_version("stable") == OLD and rollout.traffic() == {OLD: 1.0}
