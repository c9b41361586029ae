"""Faults and hostile input: slow dependencies, oversized bodies, and what the manifests allow."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from control_api.app import create_app as control_app
from control_api.config import ApiConfig
from hooks import app as hooks_app
from hooks import mldeployment
from hooks.prometheus import PrometheusClient
from server.app import create_app as server_app
from tests.support.datasets import ROWS
from tests.support.documents import built
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG, cases
from tests.support.servers import config_for, free_port

DUE = next(p for p in cases("mldeployment") if p.name.startswith("09-"))


class SlowPrometheus:
    """A Prometheus that answers every query after `delay` seconds (or never, within the test):
    a double, for a slowness a real Prometheus does not show on demand."""

    def __init__(self, delay: float):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                time.sleep(delay)
                body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def test_an_unreachable_prometheus_gives_no_observations_and_the_rollout_holds(tmp_path):
    """The route reads Prometheus only when a check is due; a refused connection means None."""
    prometheus = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    assert prometheus.observe(mldeployment.analysis_window(json.loads(DUE.read_text()), FIXED_NOW)) is None
    app = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW, prometheus=prometheus)
    response = app.test_client().post("/mldeployment/sync", data=DUE.read_bytes(), content_type="application/json")
    status = response.get_json()["status"]
    assert response.status_code == 200 and status["phase"] == "Progressing"
    assert "metrics could not be read" in status["message"]


def test_a_failed_read_is_timed_in_the_log_line_and_counted_as_unavailable(caplog):
    prometheus = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    client = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW, prometheus=prometheus).test_client()
    with caplog.at_level("INFO", logger="aurora.hooks"):
        client.post("/mldeployment/sync", data=DUE.read_bytes(), content_type="application/json")
        request = json.loads(DUE.read_text())
        request["parent"]["status"]["phase"] = "Stable"  # nothing due: no read
        client.post("/mldeployment/sync", json=request)
    lines = [json.loads(r.message) for r in caplog.records if r.message.startswith('{"controller"')]
    assert [("prometheusMs" in line) for line in lines] == [True, False]
    assert 0 <= lines[0]["prometheusMs"] <= lines[0]["durationMs"]
    text = client.get("/metrics").get_data(as_text=True)
    assert 'aurora_hooks_prometheus_read_duration_seconds_count{result="unavailable"} 1.0' in text


@pytest.mark.parametrize("delay", [2.5, 30.0], ids=["slow", "hanging"])
def test_a_slow_or_hanging_prometheus_never_holds_a_sync_past_3_seconds(delay):
    prometheus = SlowPrometheus(delay)
    app = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW, prometheus=PrometheusClient(prometheus.url))
    started = time.monotonic()
    response = app.test_client().post("/mldeployment/sync", data=DUE.read_bytes(), content_type="application/json")
    elapsed = time.monotonic() - started
    prometheus.server.shutdown()
    assert response.status_code == 200 and elapsed < 3.0, elapsed
    assert "metrics could not be read" in response.get_json()["status"]["message"]


def test_every_server_refuses_an_oversized_body(trained):
    big = b"{" + b" " * (17 * 1024 * 1024) + b"}"
    hooks = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW).test_client()
    assert hooks.post("/mldeployment/sync", data=big, content_type="application/json").status_code == 413
    api = control_app(ApiConfig(api_key="k" * 20, model_root="/nowhere")).test_client()
    response = api.post("/deployments/ml/x/promote", data=b"x" * 100_000, headers={"X-API-Key": "k" * 20})
    assert response.status_code == 413
    server = server_app(config_for(trained[0], trained[1], max_body_bytes=4096)).test_client()
    assert server.post("/predict", json={"instances": ROWS * 100}).status_code == 413


# What the built manifests allow


def all_objects() -> list[dict]:
    return built("production")


def test_no_rbac_rule_uses_a_wildcard():
    roles = [d for d in all_objects() if d["kind"] in ("ClusterRole", "Role")]
    assert roles
    for role in roles:
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs", "nonResourceURLs"):
                assert "*" not in rule.get(field, []), (role["metadata"]["name"], rule)


def test_every_container_runs_as_non_root_on_a_read_only_root_filesystem():
    for workload in (d for d in all_objects() if d["kind"] == "Deployment"):
        spec = workload["spec"]["template"]["spec"]
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["runAsNonRoot"] is True
            assert context["allowPrivilegeEscalation"] is False


def test_hook_pods_hold_no_token_and_a_network_policy_guards_them():
    objects = all_objects()
    hooks = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "aurora-hooks")
    assert hooks["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not [v for v in hooks["spec"]["template"]["spec"].get("volumes", []) if "secret" in v or "projected" in v]
    policies = [d for d in objects if d["kind"] == "NetworkPolicy"]
    assert any(p["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "aurora-hooks"} for p in policies)


def test_inference_pods_hold_no_secret_and_no_token():
    for path in cases("mldeployment"):
        response = json.loads(path.with_name(path.name.replace(".request.", ".response.")).read_text())
        for child in response["children"]:
            if child["kind"] != "Deployment":
                continue
            pod = child["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False
            assert not [v for v in pod["volumes"] if set(v) & {"secret", "projected"}]
            env = [e for c in pod["containers"] + pod["initContainers"] for e in c["env"]]
            assert not [e for e in env if "valueFrom" in e]


def test_prometheus_is_read_only_when_a_check_is_due():
    request = json.loads(DUE.read_text())
    assert mldeployment.analysis_window(request, FIXED_NOW) is not None
    request["parent"]["status"]["phase"] = "Stable"
    assert mldeployment.analysis_window(request, FIXED_NOW) is None
