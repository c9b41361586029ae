"""Every child the hooks emit in the golden scenarios, created and updated on a real API server.

The golden responses of each controller, in scenario order, are applied the way Metacontroller
applies them (server-side apply by the field manager `metacontroller`): first as a dry run, then
for real, each a later tick's version of the same children. A change to an immutable field (a
Deployment's selector, a Job's pod template) would be refused here, as it would be in a cluster.
"""

from __future__ import annotations

import contextlib
import copy
import json

import pytest

from tests.support.hook_fixtures import case_name, cases, response_path
from tests.support.kube_cluster import KubeError, Resource

pytestmark = pytest.mark.cluster
PODS = Resource("v1", "pods")


def ticks(controller: str) -> list[tuple[str, list[dict], list[dict]]]:
    """Per golden case: the children it observed and the children it answered with."""
    out = []
    for path in cases(controller):
        request, response = json.loads(path.read_text()), json.loads(response_path(path).read_text())
        observed = [as_created(c) for group in request["children"].values() for c in group.values()]
        out.append((case_name(path), observed, response["children"]))
    return out


def as_created(child: dict) -> dict:
    """An observed child as its creator applied it: no status, no server-kept metadata."""
    metadata = child["metadata"]
    kept = {k: metadata[k] for k in ("name", "labels", "annotations") if k in metadata}
    return {"apiVersion": child["apiVersion"], "kind": child["kind"], "metadata": kept, "spec": child.get("spec", {})}


def apply(kube, child: dict, namespace: str, dry_run: bool) -> dict:
    child = copy.deepcopy(child)
    child["metadata"]["namespace"] = namespace
    resource = kube.resource_for(child["apiVersion"], child["kind"])
    return kube.apply(resource, child, manager="metacontroller", dry_run=dry_run)


def remove(kube, child: dict, namespace: str) -> None:
    resource = kube.resource_for(child["apiVersion"], child["kind"])
    kube.delete(resource.path(namespace, child["metadata"]["name"]), {"propagationPolicy": "Background"})


def is_updated_in_place(child: dict) -> bool:
    """Jobs are OnDelete children: Metacontroller creates them and never updates them."""
    return child["kind"] != "Job"


def restricted(cluster, namespace: str) -> None:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    cluster.admin().call(
        "PATCH",
        f"/api/v1/namespaces/{namespace}",
        {"metadata": {"labels": labels}},
        None,
        "application/merge-patch+json",
    )


@pytest.mark.parametrize("controller, least", [("mltrainingjob", 2), ("mldeployment", 100)])
def test_every_emitted_child_is_created_or_updated_from_what_was_observed(cluster, namespace, controller, least):
    kube, refused, checked = cluster.admin(), [], 0
    for case, observed, desired in ticks(controller):
        # What a later tick updates in place must exist first, as the earlier tick made it.
        for child in filter(is_updated_in_place, observed):
            apply(kube, child, namespace, dry_run=False)
        present = {(c["kind"], c["metadata"]["name"]) for c in observed}
        for child in desired:
            if (child["kind"], child["metadata"]["name"]) in present and not is_updated_in_place(child):
                continue
            for dry_run in (True, False):
                try:
                    apply(kube, child, namespace, dry_run)
                    checked += not dry_run
                except KubeError as err:
                    refused.append(f"{case}: {child['kind']}/{child['metadata']['name']}: {err}")
        for child in observed + desired:
            with contextlib.suppress(KubeError):
                remove(kube, child, namespace)
    assert refused == []
    assert checked >= least


def test_changing_an_immutable_field_is_refused_by_the_server(cluster, namespace):
    """The check above can fail: a Deployment whose selector moved is refused on update."""
    kube = cluster.admin()
    deployment = next(c for _, _, children in ticks("mldeployment") for c in children if c["kind"] == "Deployment")
    apply(kube, deployment, namespace, dry_run=False)
    moved = copy.deepcopy(deployment)
    moved["spec"]["selector"]["matchLabels"]["aurora.dev/model-version"] = "v1"
    moved["spec"]["template"]["metadata"]["labels"]["aurora.dev/model-version"] = "v1"
    with pytest.raises(KubeError) as refused:
        apply(kube, moved, namespace, dry_run=True)
    assert refused.value.status == 422 and "field is immutable" in refused.value.message


@pytest.mark.parametrize("controller", ["mltrainingjob", "mldeployment"])
def test_every_emitted_pod_is_admitted_under_the_restricted_profile(cluster, namespace, controller):
    restricted(cluster, namespace)
    kube, admitted = cluster.admin(), 0
    templates = {
        json.dumps(child["spec"]["template"], sort_keys=True): child["metadata"]["name"]
        for _, _, children in ticks(controller)
        for child in children
        if child["kind"] in ("Job", "Deployment") and "spec" in child
    }
    for template, name in templates.items():
        template = json.loads(template)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": template["spec"]}
        kube.call("POST", PODS.path(namespace), pod, {"dryRun": "All"})
        admitted += 1
    assert admitted >= 2


def test_a_privileged_pod_is_refused_in_that_namespace(cluster, namespace):
    """The admission check above can fail."""
    restricted(cluster, namespace)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    with pytest.raises(KubeError) as refused:
        cluster.admin().call("POST", PODS.path(namespace), pod, {"dryRun": "All"})
    assert refused.value.status == 403 and "restricted" in refused.value.message
