"""The control API against the real API server, as its own service account (least-privilege RBAC)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from control_api import cli as control_cli
from control_api.app import create_app
from control_api.config import ApiConfig
from control_api.kube import Kube
from tests.support.examples import create
from tests.support.kube_cluster import Resource, token_for

pytestmark = pytest.mark.cluster
KEY = "k3y-for-tests-0123456789"
HEADERS = {"X-API-Key": KEY}
SYSTEM = "aurora-system"
CONTROL_API = f"system:serviceaccount:{SYSTEM}:aurora-control-api"
DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")
TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")
STORAGE_CLASSES = Resource("storage.k8s.io/v1", "storageclasses", namespaced=False)


def kube_as(cluster, token: str) -> Kube:
    cluster_entry = cluster.config()["clusters"][0]["cluster"]
    configuration = client.Configuration()
    configuration.host = cluster_entry["server"]
    configuration.ssl_ca_cert = cluster_entry["certificate-authority"]
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return Kube(configuration)


def new_account(cluster, namespace: str, cluster_role: str | None = None) -> str:
    """A service account, bound to a ClusterRole when given; its token."""
    name = f"sa-{uuid.uuid4().hex[:6]}"
    kube = cluster.admin()
    kube.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": name}})
    if cluster_role:
        binding = {
            "metadata": {"name": f"{namespace}-{name}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
        kube.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)
    return token_for(cluster, namespace, name)


@pytest.fixture(scope="module")
def control_api_token(cluster, aurora_installed):
    return token_for(cluster, SYSTEM, "aurora-control-api")


@pytest.fixture
def api(cluster, control_api_token, tmp_path):
    config = ApiConfig(api_key=KEY, model_root=str(tmp_path))
    return create_app(config, kube=kube_as(cluster, control_api_token)).test_client()


def get(api, path, **kwargs):
    response = api.get(path, headers=HEADERS, **kwargs)
    return response.status_code, response.get_json()


def test_platform_info_reports_the_real_cluster(api):
    status, body = get(api, "/platform/info")
    assert status == 200
    assert body["kubernetes"] == {"reachable": True, "version": "v1.36.3"}
    assert body["crdsInstalled"] == {"aurora": True, "metacontroller": True}


def test_nodes_are_the_clusters_own(api, cluster):
    status, body = get(api, "/cluster/nodes")
    names = {n["metadata"]["name"] for n in cluster.admin().get("/api/v1/nodes")["items"]}
    assert status == 200 and {n["name"] for n in body["nodes"]} == names
    nodes = {node["name"]: node for node in body["nodes"]}
    for node in nodes.values():
        assert node["ready"] is True and node["roles"] == ["worker"]
    # kwok's fake nodes say what their stages say; the real node what its kubelet finds.
    fake = [node for name, node in nodes.items() if name.startswith("kwok-node-")]
    assert fake and all(n["kubeletVersion"].startswith("kwok-") and n["capacity"]["cpu"] == "16" for n in fake)
    real = nodes.get("aurora-node")
    assert real is None or (real["kubeletVersion"] == "v1.36.3" and real["capacity"]["cpu"] == str(os.cpu_count()))


def test_storage_classes_say_which_is_default_and_which_serve_read_write_many(api, cluster):
    suffix = uuid.uuid4().hex[:6]
    made = {
        f"cephfs-{suffix}": ("cephfs.csi.ceph.com", "false"),
        f"rbd-{suffix}": ("rbd.csi.ceph.com", "true"),
    }
    kube = cluster.admin()
    for name, (provisioner, default) in made.items():
        annotations = {"storageclass.kubernetes.io/is-default-class": default}
        body = {"metadata": {"name": name, "annotations": annotations}, "provisioner": provisioner}
        kube.call("POST", STORAGE_CLASSES.path(), body)
    try:
        status, body = get(api, "/cluster/storageclasses")
        classes = {c["name"]: c for c in body["storageClasses"]}
        assert status == 200
        assert (classes[f"cephfs-{suffix}"]["readWriteMany"], classes[f"cephfs-{suffix}"]["default"]) == (True, False)
        assert (classes[f"rbd-{suffix}"]["readWriteMany"], classes[f"rbd-{suffix}"]["default"]) == (False, True)
    finally:
        for name in made:
            kube.delete(STORAGE_CLASSES.path(name=name))


def test_training_jobs_and_deployments_across_and_within_namespaces(api, cluster, namespace):
    other = cluster.new_namespace("t")
    try:
        metrics = {"r2": 0.81, "rmse": 0.5, "mae": 0.3, "rows": 20640, "trainSeconds": 12.5}
        create(cluster, "mltrainingjob", namespace, "housing-rf", {"phase": "Succeeded", "metrics": metrics})
        create(cluster, "mldeployment", other, "housing", {"phase": "Progressing", "canaryWeight": 10})
        _, every = get(api, "/trainingjobs")
        _, one = get(api, "/trainingjobs", query_string={"namespace": other})
        assert {(j["namespace"], j["name"], j["phase"]) for j in every["trainingJobs"]} >= {
            (namespace, "housing-rf", "Succeeded")
        }
        assert one["trainingJobs"] == []
        _, deployments = get(api, "/deployments", query_string={"namespace": other})
        (housing,) = deployments["deployments"]
        assert (housing["name"], housing["phase"], housing["canaryWeight"]) == ("housing", "Progressing", 10)
    finally:
        cluster.delete_namespace(other)


@pytest.mark.parametrize("action", ["promote", "abort", "retry"])
def test_actions_land_as_annotations_on_the_real_mldeployment(api, cluster, namespace, action):
    created = create(cluster, "mldeployment", namespace, "housing")
    first = api.post(f"/deployments/{namespace}/housing/{action}", headers=HEADERS)
    second = api.post(f"/deployments/{namespace}/housing/{action}", headers=HEADERS)
    assert first.status_code == second.status_code == 200
    live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
    assert live["metadata"]["annotations"][f"aurora.dev/{action}"] == second.get_json()["value"]
    assert first.get_json()["value"] != second.get_json()["value"]
    # Only the annotation changed: the spec (and so the generation) is untouched.
    assert live["spec"] == created["spec"] and live["metadata"]["generation"] == created["metadata"]["generation"]


def window_status(ends: datetime, **extra) -> dict:
    return {
        "phase": "Stable",
        "stableVersion": "v20261126-090000",
        "previousVersion": "v20261101-120000",
        "rollbackWindowEndsAt": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
        **extra,
    }


def test_rollback_in_an_open_window_sets_the_annotation(api, cluster, namespace):
    ends = datetime.now(UTC) + timedelta(minutes=5)
    created = create(cluster, "mldeployment", namespace, "housing", status=window_status(ends))
    # The API server kept every field of the window (the CRD's status schema lists them).
    assert created["status"]["previousVersion"] == "v20261101-120000"
    response = api.post(f"/deployments/{namespace}/housing/rollback", headers=HEADERS)
    live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
    assert response.status_code == 200
    assert live["metadata"]["annotations"]["aurora.dev/rollback"] == response.get_json()["value"]


@pytest.mark.parametrize(
    "status, says",
    [
        (None, "no rollback window is open"),
        (window_status(datetime.now(UTC) - timedelta(seconds=1)), "ended at"),
        (window_status(datetime.now(UTC) + timedelta(minutes=5), trafficOnPrevious=True), "already under way"),
    ],
    ids=["no-window", "window-ended", "rollback-under-way"],
)
def test_rollback_outside_a_window_is_409_and_changes_nothing(api, cluster, namespace, status, says):
    create(cluster, "mldeployment", namespace, "housing", status=status)
    response = api.post(f"/deployments/{namespace}/housing/rollback", headers=HEADERS)
    live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
    assert response.status_code == 409 and says in response.get_json()["error"]
    assert "aurora.dev/rollback" not in (live["metadata"].get("annotations") or {})


def test_an_action_on_a_missing_deployment_is_404(api, namespace):
    response = api.post(f"/deployments/{namespace}/nope/promote", headers=HEADERS)
    assert response.status_code == 404 and "not found" in response.get_json()["error"]


def test_credentials_without_rights_give_502_and_platform_info_still_answers(cluster, namespace, tmp_path):
    token = new_account(cluster, namespace)
    app = create_app(ApiConfig(api_key=KEY, model_root=str(tmp_path)), kube=kube_as(cluster, token)).test_client()
    status, body = get(app, "/cluster/nodes")
    assert status == 502 and "refused the control API's credentials (403)" in body["error"]
    status, body = get(app, "/platform/info")
    assert status == 200 and body["kubernetes"]["reachable"] is True and "403" in body["kubernetes"]["error"]


# RBAC: what the control API's service account may and may not do


ALLOWED = [
    ("list", "nodes"),
    ("list", "storageclasses.storage.k8s.io"),
    ("get", "customresourcedefinitions.apiextensions.k8s.io/mldeployments.aurora.dev"),
    ("get", "customresourcedefinitions.apiextensions.k8s.io/compositecontrollers.metacontroller.k8s.io"),
    ("list", "mltrainingjobs.aurora.dev", "--all-namespaces"),
    ("list", "mldeployments.aurora.dev", "-n", "ml"),
    ("patch", "mldeployments.aurora.dev", "-n", "ml"),
    ("get", "/version"),
]
DENIED = [
    ("get", "secrets", "-n", SYSTEM),
    ("list", "secrets", "--all-namespaces"),
    ("create", "pods/exec", "-n", "ml"),
    ("get", "pods", "-n", "ml"),
    ("delete", "mldeployments.aurora.dev", "-n", "ml"),
    ("create", "mldeployments.aurora.dev", "-n", "ml"),
    ("patch", "mltrainingjobs.aurora.dev", "-n", "ml"),
    ("delete", "mltrainingjobs.aurora.dev", "-n", "ml"),
    ("patch", "mldeployments.aurora.dev", "--subresource=status", "-n", "ml"),
    ("get", "customresourcedefinitions.apiextensions.k8s.io/certificates.cert-manager.io"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "compositecontrollers.metacontroller.k8s.io"),
    ("patch", "deployments.apps", "-n", "ml"),
    ("delete", "nodes"),
    ("impersonate", "serviceaccounts", "-n", SYSTEM),
    ("escalate", "clusterroles.rbac.authorization.k8s.io"),
]


def can_i(cluster, who: str, *request: str) -> bool:
    result = cluster.kubectl("auth", "can-i", *request, f"--as={who}", check=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize("request_", ALLOWED, ids=" ".join)
def test_the_control_api_may_make_each_call_it_makes(cluster, aurora_installed, request_):
    assert can_i(cluster, CONTROL_API, *request_)


@pytest.mark.parametrize("request_", DENIED, ids=" ".join)
def test_the_control_api_may_not_do_more(cluster, aurora_installed, request_):
    assert not can_i(cluster, CONTROL_API, *request_)


def test_every_route_answers_under_the_control_apis_own_rights(api, namespace, cluster):
    create(cluster, "mldeployment", namespace, "housing")
    for path in ("/platform/info", "/cluster/nodes", "/cluster/storageclasses", "/trainingjobs", "/deployments"):
        status, body = get(api, path)
        assert status == 200, (path, body)
    assert get(api, "/deployments", query_string={"namespace": namespace})[0] == 200
    assert api.post(f"/deployments/{namespace}/housing/promote", headers=HEADERS).status_code == 200


def test_the_hooks_service_account_may_do_nothing(cluster, aurora_installed):
    hooks = f"system:serviceaccount:{SYSTEM}:default"
    for request in (("list", "pods", "--all-namespaces"), ("get", "mldeployments.aurora.dev", "-n", "ml")):
        assert not can_i(cluster, hooks, *request)


# Bootstrap


def test_bootstrap_under_its_own_role_applies_everything_and_a_second_run_changes_nothing(cluster, namespace):
    kube = kube_as(cluster, new_account(cluster, namespace, "aurora-bootstrap"))
    assert control_cli.bootstrap(control_cli.REPO, kube) == 0
    objects = control_cli.manifests(control_cli.REPO)
    first = {o["metadata"]["name"]: cluster.admin().read(o)["metadata"]["resourceVersion"] for o in objects}
    assert control_cli.bootstrap(control_cli.REPO, kube) == 0
    second = {o["metadata"]["name"]: cluster.admin().read(o)["metadata"]["resourceVersion"] for o in objects}
    assert second == first and len(first) == 4
