"""The fleet double (tests/support/fleet.py) against what it stands for: aurora-serve's own series,
and the canary analysis reading them through a real Prometheus."""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from hooks.prometheus import REQUESTS, PrometheusClient, selector
from tests.support.datasets import ROWS
from tests.support.fleet import HEALTHY, Behaviour, Fleet, Target, failing
from tests.support.processes import start_prometheus
from tests.support.servers import Server
from tests.support.waiting import wait_until
from trainer.store import ModelStore

ADDED_BY_DISCOVERY = {"namespace", "pod", "le"}
STABLE, CANARY = "v20261201-080000", "v20261202-080000"
WINDOW = {
    "namespace": "ml",
    "model": "diabetes",
    "stableVersion": STABLE,
    "canaryVersion": CANARY,
    "windowSeconds": 5,
}
STEADY = Behaviour(requests_per_second=40, predictions=(90.0, 150.0, 210.0))


@pytest.fixture
def fleet():
    running = Fleet()
    running.start()
    yield running
    running.stop()


def series(text: str) -> dict[str, set]:
    """Each family's series, by their labels without those discovery adds, and its buckets' bounds."""
    out = {}
    for family in text_string_to_metric_families(text):
        labels = {frozenset((k, v) for k, v in s.labels.items() if k not in ADDED_BY_DISCOVERY) for s in family.samples}
        bounds = {s.labels["le"] for s in family.samples if "le" in s.labels}
        out[family.name] = (labels, bounds)
    return out


def test_the_fleet_serves_the_series_aurora_serve_does_for_the_same_version(trained, tmp_path, fleet):
    root, model, version = trained
    server = Server(root, tmp_path)
    try:
        v2 = {"inputs": [{"name": "input-0", "shape": [2, 10], "datatype": "FP64", "data": sum(ROWS, [])}]}
        for _ in range(3):
            assert requests.post(f"{server.url}/v2/models/{model}/infer", json=v2, timeout=5).ok
        time.sleep(1)  # predictions reach the histogram within a flush
        real = requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        server.stop()
    bounds = ModelStore(str(root)).read_metadata(model, version)["predictionBuckets"]
    fleet.add(Target("ml", f"{model}-0", model, version, "stable"), HEALTHY, prediction_buckets=bounds)
    time.sleep(0.5)  # the pod answers a few requests meanwhile
    double = requests.get(f"http://{fleet.address}/metrics", timeout=5).text
    assert series(double) == series(real)


@pytest.fixture
def prometheus(tmp_path, fleet):
    """A real Prometheus scraping the fleet every second, keeping the pods' own labels; its URL."""
    job = {"job_name": "fleet", "honor_labels": True, "static_configs": [{"targets": [fleet.address]}]}
    program = start_prometheus({"global": {"scrape_interval": "1s"}, "scrape_configs": [job]}, tmp_path)
    yield program.url
    program.stop()


def test_prometheus_reads_the_error_rate_a_version_is_switched_to(fleet, prometheus):
    add_rollout(fleet, "ml", "diabetes")
    client = PrometheusClient(prometheus, timeout=5)
    answered = f"sum({REQUESTS}{selector(WINDOW, 'stable')})"
    before = wait_until(lambda: client.scalar(answered), 30, "Prometheus to scrape the fleet")
    fleet.set_behaviour("ml", "diabetes", CANARY, failing(0.2, STEADY))
    time.sleep(WINDOW["windowSeconds"] + 2)  # the window then holds only what followed the switch
    seen = client.observe(WINDOW)
    assert client.scalar(answered) > before
    assert seen["stable"]["requests"] == pytest.approx(40 * WINDOW["windowSeconds"], rel=0.25)
    assert (seen["stable"]["errorRate"], seen["canary"]["errorRate"]) == (0, pytest.approx(0.2, abs=0.03))
    assert 0.0025 < seen["canary"]["latencyP99"] <= 0.005
    assert seen["canary"]["predictionShift"] == pytest.approx(0, abs=0.01)


def add_rollout(fleet: Fleet, namespace: str, model: str) -> None:
    """One stable and one canary pod of a model, serving steadily."""
    for track, version in (("stable", STABLE), ("canary", CANARY)):
        target = Target(namespace, f"{model}-{track}-0", model, version, track)
        fleet.add(target, STEADY, prediction_buckets=(100, 200))


def answered_queries(prometheus: str) -> float:
    text = requests.get(f"{prometheus}/metrics", timeout=5).text
    handled = [s for f in text_string_to_metric_families(text) for s in f.samples]
    return sum(
        s.value
        for s in handled
        if s.name == "prometheus_http_requests_total" and s.labels["handler"] == "/api/v1/query"
    )


def wait_for_a_window(client: PrometheusClient) -> None:
    """Until the canary has an increase over the window: two scrapes at least."""
    served = f"sum(increase({REQUESTS}{selector(WINDOW, 'canary')}[{WINDOW['windowSeconds']}s]))"
    wait_until(lambda: client.scalar(served), 30, "two scrapes of the fleet")


def test_each_rollout_is_judged_on_its_own_series_among_its_neighbours(fleet, prometheus):
    """Models beside it in its namespace, and its own name in another namespace, rolling out the
    same versions: a failing canary next door is never this rollout's."""
    for namespace, model in (("ml", "diabetes"), ("ml", "churn"), ("team-b", "diabetes")):
        add_rollout(fleet, namespace, model)
    client = PrometheusClient(prometheus, timeout=5)
    wait_for_a_window(client)
    fleet.set_behaviour("ml", "churn", CANARY, failing(0.5, STEADY))
    fleet.set_behaviour("team-b", "diabetes", CANARY, failing(0.3, STEADY))
    time.sleep(WINDOW["windowSeconds"] + 2)
    seen = {
        (ns, model): client.observe({**WINDOW, "namespace": ns, "model": model})
        for ns, model in (("ml", "diabetes"), ("ml", "churn"), ("team-b", "diabetes"))
    }
    assert seen[("ml", "diabetes")]["canary"]["errorRate"] == 0
    assert seen[("ml", "churn")]["canary"]["errorRate"] == pytest.approx(0.5, abs=0.05)
    assert seen[("team-b", "diabetes")]["canary"]["errorRate"] == pytest.approx(0.3, abs=0.05)
    for observed in seen.values():
        assert observed["stable"]["errorRate"] == 0
        assert observed["canary"]["requests"] == pytest.approx(40 * WINDOW["windowSeconds"], rel=0.25)


def test_a_check_costs_one_query(fleet, prometheus):
    add_rollout(fleet, "ml", "diabetes")
    client = PrometheusClient(prometheus, timeout=5)
    wait_for_a_window(client)
    before = answered_queries(prometheus)
    seen = client.observe(WINDOW)
    assert answered_queries(prometheus) - before == 1
    assert seen["canary"]["requests"] > 0 and seen["stable"]["requests"] > 0
    assert seen["canary"]["predictionShift"] == pytest.approx(0, abs=0.01)
