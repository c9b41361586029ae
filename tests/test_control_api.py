"""The control API: routes, the auth table, Kubernetes through the real client, the model store."""

from __future__ import annotations

import json
import os
import re

import pytest
from kubernetes import client

from control_api import cli as control_cli
from control_api.app import create_app
from control_api.config import ApiConfig, read_api_key
from control_api.errors import ConfigError
from control_api.kube import Kube
from tests.conftest import train
from tests.kube_double import KubeDouble
from tests.test_gunicorn import free_port

KEY = "k3y-for-tests-0123456789"
HEADERS = {"X-API-Key": KEY}


def kube_for(url: str, token: str = "test-token", timeout=(0.5, 2.0)) -> Kube:
    configuration = client.Configuration()
    configuration.host = url
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return Kube(configuration, timeout=timeout)


@pytest.fixture
def cluster():
    with KubeDouble() as double:
        yield double


@pytest.fixture
def models(model_root):
    for version in ("v20261126-080000", "v20261126-090000"):
        code, summary = train(model_root, "diabetes", "--version", version)
        assert code == 0, summary
    return model_root


@pytest.fixture
def api(cluster, models):
    config = ApiConfig(api_key=KEY, model_root=str(models))
    return create_app(config, kube=kube_for(cluster.url)).test_client()


def get(api, path, **kwargs):
    response = api.get(path, headers=HEADERS, **kwargs)
    return response.status_code, response.get_json()


# Auth


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"X-API-Key": "wrong"}, 401), ({"X-API-Key": KEY[:-1]}, 401), ({"X-API-Key": KEY}, 200)],
    ids=["missing", "wrong", "prefix", "right"],
)
@pytest.mark.parametrize("path", ["/platform/info", "/models", "/openapi.json", "/deployments"])
def test_every_route_but_health_and_metrics_needs_the_key(api, path, headers, status):
    response = api.get(path, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == {"error": "missing or wrong X-API-Key"}


def test_a_post_without_the_key_changes_nothing(api, cluster):
    assert api.post("/deployments/ml/housing/promote").status_code == 401
    assert not [r for r in cluster.requests if r["method"] == "PATCH"]


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_health_and_metrics_are_open(api, path):
    assert api.get(path).status_code == 200


def test_the_server_refuses_to_start_without_a_key(monkeypatch):
    for name in ("AURORA_API_KEY", "AURORA_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="no API key"):
        create_app()
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert control_cli.main(["serve", "--bind", f"127.0.0.1:{free_port()}"]) == 2
    # Refused before anything else is set up.
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_the_key_can_come_from_a_mounted_secret_file(tmp_path):
    secret = tmp_path / "api-key"
    secret.write_text(KEY + "\n")
    assert read_api_key({"AURORA_API_KEY_FILE": str(secret)}) == KEY
    with pytest.raises(ConfigError, match="AURORA_API_KEY_FILE"):
        read_api_key({"AURORA_API_KEY_FILE": str(tmp_path / "absent")})


def test_the_key_is_never_logged(api, caplog):
    api.get("/models", headers={"X-API-Key": "wrong-key-that-is-secret"})
    api.get("/models", headers=HEADERS)
    assert KEY not in caplog.text and "wrong-key-that-is-secret" not in caplog.text


# Kubernetes through the real client


def test_platform_info_reports_versions_crds_and_features(api):
    status, body = get(api, "/platform/info")
    assert status == 200
    assert body["kubernetes"] == "v1.33.4" and body["crdsInstalled"] == {"aurora": True, "metacontroller": True}
    assert "canary-analysis" in body["features"] and body["aurora"]


def test_nodes_report_roles_readiness_and_resources(api):
    status, body = get(api, "/cluster/nodes")
    nodes = {n["name"]: n for n in body["nodes"]}
    assert status == 200 and set(nodes) == {"cp-1", "gpu-worker-1", "worker-2"}
    assert nodes["cp-1"]["roles"] == ["control-plane"] and nodes["worker-2"]["ready"] is False
    assert nodes["gpu-worker-1"]["allocatable"] == {"cpu": "15800m", "memory": "64691476Ki"}
    assert nodes["gpu-worker-1"]["kubeletVersion"] == "v1.33.4"


def test_storage_classes_say_which_is_default_and_which_serve_read_write_many(api):
    status, body = get(api, "/cluster/storageclasses")
    classes = {c["name"]: c for c in body["storageClasses"]}
    assert classes["ceph-rbd"]["default"] is True and classes["ceph-rbd"]["readWriteMany"] is False
    assert classes["cephfs"]["readWriteMany"] is True and classes["standard"]["readWriteMany"] is False


def test_training_jobs_and_deployments_across_and_within_namespaces(api):
    _, every = get(api, "/trainingjobs")
    _, one = get(api, "/trainingjobs", query_string={"namespace": "research"})
    assert [j["name"] for j in every["trainingJobs"]] == ["housing-rf", "diabetes-gb"]
    assert [j["name"] for j in one["trainingJobs"]] == ["diabetes-gb"]
    assert every["trainingJobs"][0]["metrics"]["r2"] == 0.812
    _, deployments = get(api, "/deployments", query_string={"namespace": "ml"})
    (housing,) = deployments["deployments"]
    assert (housing["phase"], housing["canaryWeight"], housing["lastAnalysis"]["verdict"]) == (
        "Progressing",
        10,
        "Pass",
    )


def test_a_bad_namespace_is_refused_before_any_cluster_call(api, cluster):
    status, body = get(api, "/deployments", query_string={"namespace": "../kube-system"})
    assert status == 400 and "DNS-1123" in body["error"]
    assert not cluster.requests


@pytest.mark.parametrize("action", ["promote", "abort", "retry"])
def test_actions_set_the_annotation_with_a_fresh_nonce(api, cluster, action):
    first = api.post(f"/deployments/ml/housing/{action}", headers=HEADERS)
    second = api.post(f"/deployments/ml/housing/{action}", headers=HEADERS)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["value"] != second.get_json()["value"]
    patches = [r for r in cluster.requests if r["method"] == "PATCH"]
    assert [p["path"] for p in patches] == ["/apis/aurora.dev/v1alpha1/namespaces/ml/mldeployments/housing"] * 2
    assert patches[0]["headers"]["Content-Type"] == "application/merge-patch+json"
    assert patches[0]["body"] == {"metadata": {"annotations": {f"aurora.dev/{action}": first.get_json()["value"]}}}


def test_an_action_on_a_missing_deployment_is_404(api):
    response = api.post("/deployments/ml/nope/promote", headers=HEADERS)
    assert response.status_code == 404 and "not found" in response.get_json()["error"]


def test_an_unknown_action_is_404_and_touches_nothing(api, cluster):
    assert api.post("/deployments/ml/housing/delete", headers=HEADERS).status_code == 404
    assert not cluster.requests


def test_refused_credentials_give_502_with_a_json_error(cluster, models):
    app = create_app(ApiConfig(api_key=KEY, model_root=str(models)), kube=kube_for(cluster.url, token="stale"))
    response = app.test_client().get("/cluster/nodes", headers=HEADERS)
    assert response.status_code == 502 and "refused the control API's credentials (403)" in response.get_json()["error"]


def test_an_unreachable_cluster_gives_503_quickly(models):
    app = create_app(ApiConfig(api_key=KEY, model_root=str(models)), kube=kube_for(f"http://127.0.0.1:{free_port()}"))
    response = app.test_client().get("/platform/info", headers=HEADERS)
    assert response.status_code == 503 and "not reachable" in response.get_json()["error"]


# The model store, read-only


def test_models_and_their_versions_come_from_the_store(api):
    status, body = get(api, "/models")
    assert status == 200 and body["models"] == [{"name": "diabetes", "latest": "v20261126-090000", "versions": 2}]
    status, body = get(api, "/models/diabetes/versions")
    assert [v["version"] for v in body["versions"]] == ["v20261126-080000", "v20261126-090000"]
    assert body["versions"][1]["latest"] is True and body["versions"][0]["metrics"]["r2"] > 0


@pytest.mark.parametrize("model", ["..%2F..%2Fetc", "Diabetes", "a" * 64, "%2Fetc", ".hidden"])
def test_model_names_cannot_leave_the_model_root(api, model):
    response = api.get(f"/models/{model}/versions", headers=HEADERS)
    # Refused (400), not found (404), or a path Flask normalises by redirecting (308): never data.
    assert response.status_code in (308, 400, 404)
    assert response.status_code == 308 or "error" in response.get_json()


def test_an_unknown_model_is_404(api):
    status, body = get(api, "/models/housing/versions")
    assert status == 404 and "no versions" in body["error"]


# The OpenAPI document


def test_the_openapi_document_matches_the_real_routes(api):
    status, document = get(api, "/openapi.json")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    app = api.application
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if "{action}" in path:
                served |= {(method, path.replace("{action}", action)) for action in ("promote", "abort", "retry")}
            else:
                served.add((method, path))
    assert status == 200 and document["openapi"].startswith("3.")
    assert documented == served


# Bootstrap


def test_bootstrap_applies_every_crd_then_every_controller_idempotently(cluster, capsys):
    kube = kube_for(cluster.url)
    assert control_cli.bootstrap(control_cli.REPO, kube) == 0
    first = dict(cluster.applied)
    assert control_cli.bootstrap(control_cli.REPO, kube) == 0
    assert cluster.applied == first
    paths = [r["path"] for r in cluster.requests]
    assert paths[:2] == [
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mldeployments.aurora.dev",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mltrainingjobs.aurora.dev",
    ]
    assert "/apis/metacontroller.k8s.io/v1alpha1/compositecontrollers/mldeployment-controller" in paths
    applies = [r for r in cluster.requests if r["method"] == "PATCH"]
    assert all("fieldManager=aurora" in r["query"] and "force=true" in r["query"] for r in applies)
    assert json.dumps(first).count("CompositeController") == 2


def permitted(rules: list[dict], method: str, path: str) -> bool:
    """Whether an RBAC rule list allows one API request (enough of the authorizer for our paths)."""
    verb = {"GET": "get", "PATCH": "patch"}[method]
    parts = path.strip("/").split("/")
    if parts[0] == "version":
        return any(path in r.get("nonResourceURLs", []) and verb in r["verbs"] for r in rules)
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest and rest[0] == "namespaces":
        rest = rest[2:]
    resource, name = rest[0], rest[1] if len(rest) > 1 else None
    verb = "list" if verb == "get" and name is None else verb
    return any(
        group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and verb in r["verbs"]
        and (name is None or "resourceNames" not in r or name in r["resourceNames"])
        for r in rules
    )


def test_the_cluster_role_allows_every_call_the_api_makes(api, cluster):
    import yaml

    from tests.test_manifests import ROOT

    documents = list(yaml.safe_load_all((ROOT / "manifests" / "rbac" / "control-api.yaml").read_text()))
    role = next(d for d in documents if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "aurora-control-api")
    for path in ("/platform/info", "/cluster/nodes", "/cluster/storageclasses", "/trainingjobs", "/deployments"):
        get(api, path)
    get(api, "/deployments", query_string={"namespace": "ml"})
    api.post("/deployments/ml/housing/promote", headers=HEADERS)
    calls = {(r["method"], r["path"]) for r in cluster.requests}
    assert len(calls) >= 9
    denied = [call for call in calls if not permitted(role["rules"], *call)]
    assert denied == []
    assert not permitted(role["rules"], "PATCH", "/apis/aurora.dev/v1alpha1/namespaces/ml/mltrainingjobs/x")
    assert not permitted(role["rules"], "GET", "/api/v1/namespaces/ml/secrets")


def test_aurora_control_api_serves_under_gunicorn(tmp_path):
    import signal
    import subprocess
    import sys

    import requests

    from tests.test_gunicorn import wait_until

    port = free_port()
    env = {**os.environ, "AURORA_API_KEY": KEY, "AURORA_MODEL_ROOT": str(tmp_path), "KUBECONFIG": "/dev/null"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    script = os.path.join(os.path.dirname(sys.executable), "aurora-control-api")
    process = subprocess.Popen(
        [script, "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: requests.get(f"{url}/health", timeout=2).ok, 30, "aurora-control-api")
        assert requests.get(f"{url}/models", timeout=5).status_code == 401
        assert requests.get(f"{url}/models", headers=HEADERS, timeout=5).json() == {"models": []}
        # No cluster credentials at all: a JSON 503, not a crash.
        response = requests.get(f"{url}/cluster/nodes", headers=HEADERS, timeout=10)
        assert response.status_code == 503 and "error" in response.json()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
