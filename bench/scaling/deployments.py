"""The MLDeployments of a run: N of them over several namespaces, each its own model, all at one
version; then M of them moved to a new version at once, a share of them to a bad one."""

from __future__ import annotations

from pathlib import Path

from bench.scaling.settings import Settings
from tests.support.kube_cluster import Resource
from tests.support.platform import models_volume

DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")
BENCH_LABEL = "aurora.dev/bench"
# Versions every model shares, so that the fleet of series can tell a bad one by its name.
OLD, GOOD, BAD = "v20261101-120000", "v20261201-120000", "v20261201-130000"
MERGE = "application/merge-patch+json"


def name_of(index: int) -> str:
    return f"m{index:04d}"


def new_deployment(name: str, namespace: str, settings: Settings) -> dict:
    """One MLDeployment with two weighted steps, each followed by a pause of one interval."""
    interval = f"{settings.interval}s"
    return {
        "apiVersion": "aurora.dev/v1alpha1",
        "kind": "MLDeployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {BENCH_LABEL: "scale"}},
        "spec": {
            "model": name,
            "version": OLD,
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
    """Namespaces with a models volume each, and the MLDeployments; name -> namespace."""
    kube, placed = cluster.admin(), {}
    namespaces = [cluster.new_namespace("scale") for _ in range(settings.namespaces)]
    for namespace in namespaces:
        cluster.kubectl("apply", "-f", "-", stdin=models_volume(namespace, models))
    for index in range(settings.deployments):
        name, namespace = name_of(index), namespaces[index // settings.per_namespace]
        kube.call("POST", DEPLOYMENTS.path(namespace), new_deployment(name, namespace, settings))
        placed[name] = namespace
    return placed


def roll_out(kube, placed: dict[str, str], settings: Settings) -> dict[str, str]:
    """Move the first M MLDeployments to a new version, every k-th to the bad one; name -> version."""
    chosen = sorted(placed)[: settings.rollouts]
    every = max(1, round(1 / settings.bad_share)) if settings.bad_share else len(chosen) + 1
    bad = set(chosen[::every][: settings.bad_rollouts])
    versions = {name: BAD if name in bad else GOOD for name in chosen}
    for name, version in versions.items():
        kube.call("PATCH", DEPLOYMENTS.path(placed[name], name), {"spec": {"version": version}}, None, MERGE)
    return versions


def remove(cluster, placed: dict[str, str]) -> None:
    """The namespaces, and the volumes bound to them (a Retain volume outlives its claim)."""
    for namespace in sorted(set(placed.values())):
        cluster.delete_namespace(namespace)
        cluster.admin().delete(f"/api/v1/persistentvolumes/aurora-models-{namespace}")
