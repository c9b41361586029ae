"""Every CEL rule of both CRDs, each with an object the real API server accepts and one it refuses."""

from __future__ import annotations

import copy
import json

import pytest

from tests.support.documents import documents
from tests.support.kube_cluster import KubeError, Resource
from tests.support.paths import ROOT

pytestmark = pytest.mark.cluster
TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")
DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")
EXAMPLE = {kind: documents(ROOT / "examples" / f"{kind}.yaml")[0] for kind in ("mltrainingjob", "mldeployment")}


def steps(*values) -> list[dict]:
    return [{"setWeight": v} if isinstance(v, int) else {"pause": v} for v in values]


def renamed(name: str):
    return lambda obj: obj["metadata"].update(name=name)


def in_spec(*path, value):
    def change(obj):
        node = obj["spec"]
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return change


# rule message -> (kind, change that keeps the object valid, change that breaks the rule)
CREATE_RULES = {
    "metadata.name must be at most 56 characters (children are named <name>-stable and <name>-canary)": (
        "mldeployment",
        renamed("d" * 56),
        renamed("d" * 57),
    ),
    "setWeight values must increase from step to step": (
        "mldeployment",
        in_spec("canary", "steps", value=steps(10, {}, 50)),
        in_spec("canary", "steps", value=steps(50, 10)),
    ),
    "setWeight values must not repeat": (
        "mldeployment",
        in_spec("canary", "steps", value=steps(20, {"duration": "1m"}, 40)),
        in_spec("canary", "steps", value=steps(20, {"duration": "1m"}, 20)),
    ),
    "exactly one of spec.version and spec.versionFrom must be set": (
        "mldeployment",
        lambda obj: obj["spec"].update(versionFrom={"trainingJob": "housing-rf"}) or obj["spec"].pop("version"),
        in_spec("versionFrom", value={"trainingJob": "housing-rf"}),
    ),
    "spec.traffic.gatewayAPI is required when spec.traffic.router is gatewayAPI": (
        "mldeployment",
        in_spec("traffic", value={"router": "gatewayAPI", "gatewayAPI": {"parentRefs": [{"name": "public"}]}}),
        in_spec("traffic", value={"router": "gatewayAPI"}),
    ),
    "autoscaling.minReplicas must not exceed maxReplicas": (
        "mldeployment",
        in_spec("autoscaling", value={"minReplicas": 2, "maxReplicas": 2}),
        in_spec("autoscaling", value={"minReplicas": 3, "maxReplicas": 2}),
    ),
    "a step has exactly one of setWeight, pause or mirror": (
        "mldeployment",
        in_spec("canary", "steps", value=[{"mirror": {"duration": "5m"}}, {"pause": {}}]),
        in_spec("canary", "steps", value=[{"setWeight": 10, "mirror": {"duration": "1m"}}]),
    ),
    "metadata.name must be at most 63 characters (it becomes a label value)": (
        "mltrainingjob",
        renamed("t" * 63),
        renamed("t" * 64),
    ),
    "exactly one of dataset.builtin or dataset.csv must be set": (
        "mltrainingjob",
        in_spec("dataset", value={"csv": {"path": "/models/data/housing.csv", "target": "price"}}),
        in_spec("dataset", value={"builtin": "diabetes", "csv": {"path": "/models/h.csv", "target": "price"}}),
    ),
    "testFraction must be strictly between 0 and 1": (
        "mltrainingjob",
        in_spec("evaluation", "testFraction", value=0.5),
        in_spec("evaluation", "testFraction", value=1.0),
    ),
    "gate.metric r2 takes min; rmse and mae take max": (
        "mltrainingjob",
        in_spec("evaluation", "gate", value={"metric": "rmse", "max": 0.5}),
        in_spec("evaluation", "gate", value={"metric": "rmse", "min": 0.5}),
    ),
}
UPDATE_RULES = {"spec is immutable; create a new MLTrainingJob to retrain"}


def crd_rule_messages() -> set[str]:
    messages = set()

    def walk(node):
        if isinstance(node, dict):
            messages.update(rule["message"] for rule in node.get("x-kubernetes-validations") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (ROOT / "manifests" / "crds").glob("*.aurora.dev.yaml"):
        walk(documents(path))
    return messages


def example(kind: str, namespace: str, change) -> dict:
    obj = copy.deepcopy(EXAMPLE[kind])
    obj["metadata"]["namespace"] = namespace
    change(obj)
    return obj


def create(cluster, obj: dict, dry_run: bool = True) -> dict:
    resource = TRAINING_JOBS if obj["kind"] == "MLTrainingJob" else DEPLOYMENTS
    params = {"dryRun": "All"} if dry_run else None
    return cluster.admin().call("POST", resource.path(obj["metadata"]["namespace"]), obj, params)


def test_every_cel_rule_of_the_crds_has_a_case_here():
    assert crd_rule_messages() == set(CREATE_RULES) | UPDATE_RULES


@pytest.mark.parametrize("message", sorted(CREATE_RULES))
def test_the_api_server_accepts_a_valid_object_and_refuses_one_breaking_the_rule(
    cluster, aurora_installed, namespace, message
):
    kind, valid, broken = CREATE_RULES[message]
    assert create(cluster, example(kind, namespace, valid))["metadata"]["uid"]
    with pytest.raises(KubeError) as refused:
        create(cluster, example(kind, namespace, broken))
    assert refused.value.status == 422
    assert message in refused.value.message


def test_a_training_jobs_spec_cannot_change_but_its_labels_can(cluster, aurora_installed, namespace):
    created = create(cluster, example("mltrainingjob", namespace, renamed("rf")), dry_run=False)
    path = TRAINING_JOBS.path(namespace, "rf")
    kube = cluster.admin()
    labelled = kube.call("PATCH", path, {"metadata": {"labels": {"team": "ml"}}}, None, "application/merge-patch+json")
    assert labelled["metadata"]["labels"] == {"team": "ml"}
    with pytest.raises(KubeError) as refused:
        kube.call("PATCH", path, {"spec": {"backoffLimit": 5}}, None, "application/merge-patch+json")
    assert refused.value.status == 422 and "spec is immutable" in refused.value.message
    assert kube.get(path)["spec"] == created["spec"]


def test_the_status_subresource_keeps_spec_and_status_apart(cluster, aurora_installed, namespace):
    created = create(cluster, example("mldeployment", namespace, renamed("housing")), dry_run=False)
    path = DEPLOYMENTS.path(namespace, "housing")
    kube = cluster.admin()
    changed = {**created, "spec": {**created["spec"], "replicas": 9}, "status": {"phase": "Stable"}}
    kube.call("PUT", f"{path}/status", changed)
    live = kube.get(path)
    assert live["spec"]["replicas"] == created["spec"]["replicas"] and live["status"]["phase"] == "Stable"
    assert live["metadata"]["generation"] == created["metadata"]["generation"]


def test_kubectl_scale_sets_the_replicas_through_the_scale_subresource(cluster, aurora_installed, namespace):
    created = create(cluster, example("mldeployment", namespace, renamed("housing")), dry_run=False)
    status = {**created, "status": {"stable": {"version": "v20261126-101500", "replicas": 2, "readyReplicas": 2}}}
    cluster.admin().call("PUT", DEPLOYMENTS.path(namespace, "housing") + "/status", status)
    result = cluster.kubectl("scale", "mld/housing", "-n", namespace, "--replicas=5")
    assert "scaled" in result.stdout
    live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
    scale = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing") + "/scale")
    assert live["spec"]["replicas"] == 5 and scale["status"]["replicas"] == 2


def test_defaults_are_filled_in_by_the_server(cluster, aurora_installed, namespace):
    obj = example("mldeployment", namespace, lambda o: o["spec"].pop("canary"))
    spec = create(cluster, obj)["spec"]
    assert spec["canary"]["steps"] == steps(10, {"duration": "60s"}, 50, {"duration": "120s"})
    # The ceilings and failureLimit depend on spec.canary.analysis.baseline: the hook applies them.
    assert json.dumps(spec["canary"]["analysis"], sort_keys=True) == json.dumps(
        {"interval": "30s", "maxInconclusive": 10, "minRequests": 50}, sort_keys=True
    )


def test_a_baseline_analysis_gets_no_ceiling_from_the_server_and_a_certain_confidence_is_refused(
    cluster, aurora_installed, namespace
):
    obj = example("mldeployment", namespace, in_spec("canary", "analysis", value={"baseline": "stable"}))
    analysis = create(cluster, obj)["spec"]["canary"]["analysis"]
    assert analysis["baseline"] == "stable" and "maxErrorRate" not in analysis and "failureLimit" not in analysis
    certain = example("mldeployment", namespace, in_spec("canary", "analysis", value={"confidence": 1}))
    with pytest.raises(KubeError) as refused:
        create(cluster, certain)
    assert refused.value.status == 422 and "confidence" in str(refused.value)
