"""The hook service over HTTP: the adapter's answers, errors, metrics and log lines."""

from __future__ import annotations

import json
import logging

import pytest

from hooks import app as hooks_app
from hooks import mltrainingjob
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG, cases, observations_path, response_path

FIRST = cases("mltrainingjob")[0]


@pytest.fixture
def client():
    return hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW).test_client()


def test_sync_answers_the_golden_response(client):
    response = client.post("/mltrainingjob/sync", data=FIRST.read_bytes(), content_type="application/json")
    assert response.status_code == 200
    assert response.get_json() == json.loads(response_path(FIRST).read_text())


def test_customize_answers_related_pods(client):
    response = client.post("/mltrainingjob/customize", data=FIRST.read_bytes(), content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["relatedResources"][0]["resource"] == "pods"


MALFORMED = [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"{}", "no parent"),
    (b'{"parent": "x"}', "no parent"),
    (b'{"parent": {"metadata": "x"}}', "no metadata.name"),
    (b'{"parent": {"spec": {}}}', "no metadata.name"),
    (b'{"parent": {"metadata": {"name": "x"}}, "children": {"Job.batch/v1": [1]}}', "not an object of objects"),
    (b"\xff\xfe", "not JSON"),
]


@pytest.mark.parametrize("path", ["/mltrainingjob/sync", "/mltrainingjob/customize"])
@pytest.mark.parametrize("body, message", MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_body_gets_400_and_never_a_200(client, path, body, message):
    response = client.post(path, data=body, content_type="application/json")
    if path.endswith("customize") and message == "not an object of objects":
        # customize reads only the parent, which is well formed here.
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_an_unexpected_error_gets_500_so_metacontroller_changes_nothing(client, monkeypatch):
    def broken(request, *, now, config=None):
        raise KeyError("surprise")

    monkeypatch.setattr(mltrainingjob, "sync", broken)
    response = client.post("/mltrainingjob/sync", data=FIRST.read_bytes(), content_type="application/json")
    assert response.status_code == 500
    assert "children" not in response.get_json() and "KeyError" in response.get_json()["error"]


def test_metrics_count_calls_by_controller_hook_and_result(client):
    for _ in range(3):
        client.post("/mltrainingjob/sync", data=FIRST.read_bytes(), content_type="application/json")
    client.post("/mltrainingjob/sync", data=b"{}", content_type="application/json")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'aurora_hooks_calls_total{controller="mltrainingjob",hook="sync",result="ok"} 3.0' in text
    assert 'aurora_hooks_calls_total{controller="mltrainingjob",hook="sync",result="bad_request"} 1.0' in text
    assert 'aurora_hooks_call_duration_seconds_count{controller="mltrainingjob",hook="sync"} 4.0' in text


def test_each_sync_logs_one_json_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="aurora.hooks"):
        client.post("/mltrainingjob/sync", data=FIRST.read_bytes(), content_type="application/json")
    (record,) = [r for r in caplog.records if r.name == "aurora.hooks"]
    line = json.loads(record.getMessage())
    assert line["controller"] == "mltrainingjob" and line["hook"] == "sync"
    assert (line["namespace"], line["name"], line["phase"], line["result"]) == ("ml", "diabetes-gb", "Pending", "ok")
    assert line["durationMs"] >= 0


def test_healthz(client):
    assert client.get("/healthz").status_code == 200


MLD_CASES = cases("mldeployment")


def test_mldeployment_sync_answers_through_the_adapter(client):
    first = MLD_CASES[0]
    response = client.post("/mldeployment/sync", data=first.read_bytes(), content_type="application/json")
    assert response.status_code == 200
    assert [c["kind"] for c in response.get_json()["children"]] == ["Deployment", "Service", "Ingress"]


class FixedPrometheus:
    """A test double of the Prometheus client: the same recorded numbers for every window."""

    def __init__(self, observations: dict):
        self.observations = observations

    def observe(self, window: dict) -> dict:
        return self.observations


def test_a_sync_that_changes_the_phase_is_counted_as_a_transition(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    case = next(p for p in MLD_CASES if p.name.startswith("08-"))
    request = json.loads(case.read_text())
    prometheus = FixedPrometheus(json.loads(observations_path(case).read_text()))
    client = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW, prometheus=prometheus).test_client()
    answer = client.post("/mldeployment/sync", json=request).get_json()
    assert answer["status"]["phase"] == "RolledBack"
    # The status it wrote, read back: the phase stays, nothing more is counted.
    request["parent"]["status"] = answer["status"]
    client.post("/mldeployment/sync", json=request)
    text = client.get("/metrics").get_data(as_text=True)
    labels = 'controller="mldeployment",name="housing",namespace="ml",phase="RolledBack",reason="AnalysisFailed"'
    assert f"aurora_hooks_phase_transitions_total{{{labels}}} 1.0" in text
