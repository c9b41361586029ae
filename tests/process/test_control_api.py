"""The control API without a cluster: the auth table, the model store, OpenAPI, faults, gunicorn.

Its calls to Kubernetes are tested against the real API server in test_cluster_control_api.py.
Here the cluster is either absent (a closed port) or a test double for faults a real API
server does not produce on demand (an HTML 500, a body that is not JSON).
"""

from __future__ import annotations

import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from aurora_api.actions import Action
from control_api import cli as control_cli
from control_api.app import create_app
from control_api.config import ApiConfig, read_api_key
from control_api.errors import ConfigError
from control_api.kube import Kube
from tests.support.models import train
from tests.support.servers import free_port

KEY = "k3y-for-tests-0123456789"
HEADERS = {"X-API-Key": KEY}


def kube_for(url: str, token: str = "test-token", timeout=(0.5, 2.0)) -> Kube:
    configuration = client.Configuration()
    configuration.host = url
    configuration.api_key = {"BearerToken": token}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    return Kube(configuration, timeout=timeout)


@pytest.fixture
def unreachable():
    return kube_for(f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def models(model_root):
    for version in ("v20261126-080000", "v20261126-090000"):
        code, summary = train(model_root, "diabetes", "--version", version)
        assert code == 0, summary
    return model_root


@pytest.fixture
def api(unreachable, models):
    """The API with no cluster behind it: any call to Kubernetes would answer 503."""
    config = ApiConfig(api_key=KEY, model_root=str(models))
    return create_app(config, kube=unreachable).test_client()


def get(api, path, **kwargs):
    response = api.get(path, headers=HEADERS, **kwargs)
    return response.status_code, response.get_json()


# Auth


@pytest.mark.parametrize(
    "headers, status",
    [({}, 401), ({"X-API-Key": "wrong"}, 401), ({"X-API-Key": KEY[:-1]}, 401), ({"X-API-Key": KEY}, 200)],
    ids=["missing", "wrong", "prefix", "right"],
)
@pytest.mark.parametrize("path", ["/platform/info", "/models", "/openapi.json"])
def test_every_route_but_health_and_metrics_needs_the_key(api, path, headers, status):
    response = api.get(path, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == {"error": "missing or wrong X-API-Key"}


def test_a_post_without_the_key_is_refused_before_any_cluster_call(api):
    # A call to the (unreachable) cluster would have answered 503.
    assert api.post("/deployments/ml/housing/promote").status_code == 401


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


# Without a cluster, and faults


def test_a_bad_namespace_is_refused_before_any_cluster_call(api):
    status, body = get(api, "/deployments", query_string={"namespace": "../kube-system"})
    assert status == 400 and "DNS-1123" in body["error"]


def test_an_unknown_action_is_404_before_any_cluster_call(api):
    assert api.post("/deployments/ml/housing/delete", headers=HEADERS).status_code == 404


def test_an_unreachable_cluster_gives_503_quickly_but_platform_info_still_answers(api):
    started = time.monotonic()
    status, body = get(api, "/cluster/nodes")
    assert status == 503 and "not reachable" in body["error"]
    status, body = get(api, "/platform/info")
    assert status == 200 and body["kubernetes"]["reachable"] is False and "not reachable" in body["kubernetes"]["error"]
    assert body["aurora"] and "canary-analysis" in body["features"] and "crdsInstalled" not in body
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "content_type, body, expected",
    [("text/html", b"<html>oops</html>", "answered 500"), ("application/json", b"{not json", "not JSON")],
    ids=["html-500", "not-json-200"],
)
def test_an_api_server_answering_garbage_gives_502(models, content_type, body, expected):
    status = 500 if content_type == "text/html" else 200
    with FaultyApiServer(status, content_type, body) as url:
        app = create_app(ApiConfig(api_key=KEY, model_root=str(models)), kube=kube_for(url))
        response = app.test_client().get("/cluster/nodes", headers=HEADERS)
    assert response.status_code == 502 and expected in response.get_json()["error"]


class FaultyApiServer:
    """A test double of the API server for faults a real one won't produce on demand: one fixed answer."""

    def __init__(self, status: int, content_type: str, body: bytes):
        answer = (status, content_type, body)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(answer[0])
                self.send_header("Content-Type", answer[1])
                self.send_header("Content-Length", str(len(answer[2])))
                self.end_headers()
                self.wfile.write(answer[2])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


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
                served |= {(method, path.replace("{action}", action)) for action in Action}
            else:
                served.add((method, path))
    assert status == 200 and document["openapi"].startswith("3.")
    assert documented == served


def test_aurora_control_api_serves_under_gunicorn(tmp_path):
    import signal
    import subprocess
    import sys

    import requests

    from tests.support.waiting import wait_until

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
