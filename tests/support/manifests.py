"""The MLTrainingJobs and MLDeployments the cluster tests apply, as a user would write them."""

from __future__ import annotations

import yaml

from tests.support.traefik import GATEWAY

API_VERSION = "aurora.dev/v1alpha1"


def host(namespace: str) -> str:
    """An MLDeployment's host name: one per test namespace, as two apps never share one."""
    return f"diabetes.{namespace}.example.com"


def training_job(namespace: str, name: str, *, params: dict | None = None, gate: dict | None = None) -> dict:
    """A ridge regression on the diabetes data."""
    spec = {"model": "diabetes", "dataset": {"builtin": "diabetes"}, "estimator": {"type": "ridge"}}
    if params:
        spec["estimator"]["params"] = params
    if gate:
        spec["evaluation"] = {"gate": gate}
    return {
        "apiVersion": API_VERSION,
        "kind": "MLTrainingJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def ml_deployment(
    namespace: str,
    *,
    version: str | None = None,
    trained_by: str | None = None,
    replicas: int = 2,
    router: str = "nginx",
    header: dict | None = None,
    canary: dict | None = None,
) -> dict:
    """The MLDeployment `diabetes`, serving `version` or what the run `trained_by` publishes,
    routed by `router` (nginx: an Ingress; gatewayAPI: an HTTPRoute on Traefik's Gateway)."""
    spec: dict = {"model": "diabetes", "replicas": replicas}
    spec.update({"version": version} if version else {"versionFrom": {"trainingJob": trained_by}})
    traffic: dict = {"canaryHeader": header} if header else {}
    if router == "gatewayAPI":
        traffic.update(router="gatewayAPI", gatewayAPI={"parentRefs": [GATEWAY], "hostnames": [host(namespace)]})
    else:
        spec["ingress"] = {"host": host(namespace)}
    if traffic:
        spec["traffic"] = traffic
    if canary:
        spec["canary"] = canary
    metadata = {"name": "diabetes", "namespace": namespace}
    return {"apiVersion": API_VERSION, "kind": "MLDeployment", "metadata": metadata, "spec": spec}


def dump(*objects: dict) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)
