"""The models of a run: N of them over several namespaces, each trained by an MLTrainingJob and
served by an MLDeployment that follows it; then M of them retrained at once, each MLDeployment
moved to its new run, a share of the new versions bad.

The training pods are kwok's: it completes them as it does every Job pod, so each run publishes
the version the hook chose for it, without metrics (no gate is set). What is measured is the
control plane's work: the runs' Jobs and statuses, and the MLDeployments resolving them.
"""

from __future__ import annotations

from pathlib import Path

from bench.scaling.settings import Settings
from tests.support.kube_cluster import Resource
from tests.support.platform import models_volume
from tests.support.waiting import wait_until

DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")
TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")
NAMESPACES = Resource("v1", "namespaces", namespaced=False)
GONE_SECONDS = 900
BENCH_LABEL = "aurora.dev/bench"
LABELS = {BENCH_LABEL: "scale"}
FIRST_RUN, RETRAIN = "r1", "r2"
MERGE = "application/merge-patch+json"


def name_of(index: int) -> str:
    return f"m{index:04d}"


def run_name(model: str, run: str) -> str:
    return f"{model}-{run}"


def new_training_job(model: str, namespace: str, run: str) -> dict:
    """A small run of the model, publishing and promoting its version; no gate."""
    return {
        "apiVersion": "aurora.dev/v1alpha1",
        "kind": "MLTrainingJob",
        "metadata": {"name": run_name(model, run), "namespace": namespace, "labels": LABELS},
        "spec": {
            "model": model,
            "dataset": {"builtin": "diabetes"},
            "estimator": {"type": "ridge"},
            "evaluation": {"testFraction": 0.2, "seed": 42},
            "promote": True,
            "storage": {"claimName": "aurora-models"},
        },
    }


def new_deployment(model: str, namespace: str, settings: Settings) -> dict:
    """One MLDeployment following the model's first run, with two weighted steps, each followed
    by a pause of one interval."""
    interval = f"{settings.interval}s"
    return {
        "apiVersion": "aurora.dev/v1alpha1",
        "kind": "MLDeployment",
        "metadata": {"name": model, "namespace": namespace, "labels": LABELS},
        "spec": {
            "model": model,
            "versionFrom": {"trainingJob": run_name(model, FIRST_RUN)},
            "replicas": 1,
            "canary": {
                "replicas": 1,
                "steps": [
                    {"setWeight": 20},
                    {"pause": {"duration": interval}},
                    {"setWeight": 50},
                    {"pause": {"duration": interval}},
                ],
                "analysis": {
                    "interval": interval,
                    "minRequests": 10,
                    "maxErrorRate": 0.05,
                    "maxLatencyP99Seconds": 0.5,
                    "failureLimit": 2,
                },
            },
        },
    }


def create(cluster, settings: Settings, models: Path) -> dict[str, str]:
    """Namespaces with a models volume each, and per model its first run and its MLDeployment;
    model -> namespace."""
    kube, placed = cluster.admin(), {}
    namespaces = [cluster.new_namespace("scale") for _ in range(settings.namespaces)]
    for namespace in namespaces:
        cluster.kubectl("apply", "-f", "-", stdin=models_volume(namespace, models))
    for index in range(settings.deployments):
        model, namespace = name_of(index), namespaces[index // settings.per_namespace]
        kube.call("POST", TRAINING_JOBS.path(namespace), new_training_job(model, namespace, FIRST_RUN))
        kube.call("POST", DEPLOYMENTS.path(namespace), new_deployment(model, namespace, settings))
        placed[model] = namespace
    return placed


def chosen(placed: dict[str, str], settings: Settings) -> tuple[list[str], set[str]]:
    """The first M models, and those of them whose new version is bad: every k-th."""
    models = sorted(placed)[: settings.rollouts]
    every = max(1, round(1 / settings.bad_share)) if settings.bad_share else len(models) + 1
    return models, set(models[::every][: settings.bad_rollouts])


def retrain(kube, placed: dict[str, str], models: list[str]) -> None:
    """A new run of each model, and its MLDeployment moved onto it, as a nightly retrain does."""
    for model in models:
        namespace = placed[model]
        kube.call("POST", TRAINING_JOBS.path(namespace), new_training_job(model, namespace, RETRAIN))
        moved = {"spec": {"versionFrom": {"trainingJob": run_name(model, RETRAIN)}}}
        kube.call("PATCH", DEPLOYMENTS.path(namespace, model), moved, None, MERGE)


def remove(cluster, placed: dict[str, str]) -> None:
    """The namespaces, and the volumes bound to them (a Retain volume outlives its claim); then
    waits until the namespaces are gone, so that the next run starts on an empty cluster (its
    Metacontroller would otherwise list, cache and sync what this run left)."""
    namespaces = sorted(set(placed.values()))
    for namespace in namespaces:
        cluster.delete_namespace(namespace)
        cluster.admin().delete(f"/api/v1/persistentvolumes/aurora-models-{namespace}")
    wait_until(lambda: not remaining(cluster.admin(), namespaces), GONE_SECONDS, "the run's namespaces to go", 1.0)


def remaining(kube, namespaces: list[str]) -> list[str]:
    listed = {item["metadata"]["name"] for item in kube.list(NAMESPACES)}
    return [namespace for namespace in namespaces if namespace in listed]
