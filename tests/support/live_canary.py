"""A canary rollout against real parts: two aurora-serve processes, a real Prometheus, real traffic.

Two versions of a model are trained, a stable and a canary `aurora-serve` serve them
(the canary with fault injection when asked), Prometheus scrapes both every second,
and a traffic thread keeps calling both. The MLDeployment reconciler then runs tick by
tick on the real clock, reading its metrics through the hook's own Prometheus client.
Only Kubernetes is a test double (tests/support/metacontroller_double.py): Deployments "become
ready" because their processes already run.

`python -m tests.support.live_canary` runs both scenarios and prints the timeline.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from sklearn.datasets import load_diabetes

from hooks import mldeployment
from hooks.config import HookConfig
from hooks.prometheus import PrometheusClient, PrometheusError
from tests.support.metacontroller_double import MetacontrollerDouble
from tests.support.models import train
from tests.support.servers import Server, free_port
from tests.support.tools import require_tool
from tests.support.waiting import wait_until

STABLE_VERSION, CANARY_VERSION = "v20261126-080000", "v20261126-090000"
INTERVAL_SECONDS = 3
KEYS = {"Deployment.apps/v1": "InPlace", "Service.v1": "InPlace", "Ingress.networking.k8s.io/v1": "InPlace"}
CONFIG = HookConfig(server_image="registry.example.com/aurora:0.1.0", drain_seconds=1)


WEIGHT_STEPS = [{"setWeight": 10}, {"setWeight": 50}]


# Judged against stable: no ceiling, an increase of at most one point of errors.
AGAINST_STABLE = {"baseline": "stable", "maxErrorRateIncrease": 0.01, "confidence": 0.95}


def parent(max_shift: float | None = None, steps: list[dict] = WEIGHT_STEPS, judged: dict | None = None) -> dict:
    checks = {"interval": f"{INTERVAL_SECONDS}s", "minRequests": 20}
    checks |= judged or {"maxErrorRate": 0.05, "failureLimit": 2}
    if max_shift is not None:
        checks["maxPredictionShift"] = max_shift
    canary = {"replicas": 1, "steps": steps, "analysis": checks}
    spec = {"model": "diabetes", "version": STABLE_VERSION, "replicas": 1, "canary": canary}
    metadata = {"name": "diabetes", "namespace": "ml", "uid": "live-1", "generation": 1, "annotations": {}}
    return {"apiVersion": "aurora.dev/v1alpha1", "kind": "MLDeployment", "metadata": metadata, "spec": spec}


class Traffic(threading.Thread):
    """Calls every server in turn, about 200 requests per second in all, until stopped; the
    requests go through the first 50 rows of the diabetes data, so predictions spread. The
    canary gets a copy of each of stable's requests, as under a mirror step."""

    def __init__(self, urls: list[str]):
        super().__init__(daemon=True)
        self.urls, self.stopped = urls, threading.Event()
        self.rows = [list(map(float, row)) for row in load_diabetes().data[:50]]

    def run(self) -> None:
        session = requests.Session()
        turn = 0
        while not self.stopped.is_set():
            row = self.rows[turn % len(self.rows)]
            turn += 1
            for url in self.urls:
                with contextlib.suppress(requests.RequestException):
                    session.post(f"{url}/predict", json={"instances": [row]}, timeout=2)
            time.sleep(0.01)


@contextlib.contextmanager
def live_setup(
    fault_error_rate: float = 0.0,
    canary_dataset: str = "builtin:diabetes",
    canary_seed: int = 42,
    stable_error_rate: float = 0.0,
):
    """Trained versions, the stable and canary servers, Prometheus and traffic; yields the Prometheus URL.
    Each server fails the share of requests asked of it (aurora-serve's fault injection).

    The canary is trained on `canary_dataset` with `canary_seed`, and counts its predictions on
    the stable version's histogram bounds, as the MLDeployment hook has it do."""
    work = Path(tempfile.mkdtemp(prefix="aurora-live-"))
    prometheus_bin = require_tool("prometheus")
    root = work / "models"
    for folder in ("stable", "canary"):
        (work / folder).mkdir()
    for version, dataset, seed in (
        (STABLE_VERSION, "builtin:diabetes", 42),
        (CANARY_VERSION, canary_dataset, canary_seed),
    ):
        code, summary = train(
            root, "diabetes", "--version", version, "--no-promote", "--seed", str(seed), dataset=dataset
        )
        assert code == 0, summary
    servers = [
        Server(
            root,
            work / "stable",
            AURORA_MODEL_VERSION=STABLE_VERSION,
            AURORA_TRACK="stable",
            AURORA_FAULT_ERROR_RATE=str(stable_error_rate),
        ),
        Server(
            root,
            work / "canary",
            AURORA_MODEL_VERSION=CANARY_VERSION,
            AURORA_TRACK="canary",
            AURORA_FAULT_ERROR_RATE=str(fault_error_rate),
            AURORA_PREDICTION_BUCKETS_FROM=STABLE_VERSION,
        ),
    ]
    port = free_port()
    targets = ", ".join(f"'127.0.0.1:{s.port}'" for s in servers)
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: inference\n    static_configs: [{{targets: [{targets}], labels: {{namespace: ml}}}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    traffic = Traffic([s.url for s in servers])
    traffic.start()
    url = f"http://127.0.0.1:{port}"
    try:
        query = 'sum(aurora_inference_http_request_total{namespace="ml",track="canary"})'
        wait_until(lambda: scraped(url, query), 30, "Prometheus to scrape the canary")
        yield url
    finally:
        traffic.stopped.set()
        traffic.join(timeout=5)
        prometheus.terminate()
        prometheus.wait(timeout=10)
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


def scraped(url: str, query: str) -> float | None:
    try:
        return PrometheusClient(url).scalar(query)
    except PrometheusError:
        return None


def mark_ready(cluster: MetacontrollerDouble) -> None:
    for deployment in cluster.children["Deployment.apps/v1"].values():
        replicas = deployment["spec"]["replicas"]
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas,
            **{k: replicas for k in ("updatedReplicas", "readyReplicas", "availableReplicas")},
        }


def run_rollout(
    prometheus_url: str,
    *,
    until: set[str],
    limit_seconds: float = 40,
    max_shift: float | None = None,
    steps: list[dict] = WEIGHT_STEPS,
    judged: dict | None = None,
) -> dict:
    """Start the canary and tick every half second on the real clock until a phase in `until`."""
    client = PrometheusClient(prometheus_url)
    hook = lambda r, now, **kw: mldeployment.sync(r, now=now, config=CONFIG, **kw)  # noqa: E731
    cluster = MetacontrollerDouble(parent(max_shift, steps, judged), hook, strategies=KEYS)
    cluster.tick(datetime.now(UTC), observations=None)
    mark_ready(cluster)
    cluster.parent["spec"]["version"] = CANARY_VERSION
    cluster.parent["metadata"]["generation"] += 1
    timeline, began, traffic_at = [], time.monotonic(), None
    while time.monotonic() - began < limit_seconds:
        now = datetime.now(UTC)
        window = mldeployment.analysis_window(cluster.request(), now)
        status = cluster.tick(now, observations=client.observe(window) if window else None)["status"]
        mark_ready(cluster)
        elapsed = time.monotonic() - began
        if traffic_at is None and status["canaryWeight"] > 0:
            traffic_at = elapsed
        analysis = status.get("analysis") or {}
        entry = (
            round(elapsed, 1),
            status["phase"],
            status["canaryWeight"],
            analysis.get("verdict"),
            analysis.get("canary"),
        )
        if not timeline or timeline[-1][1:4] != entry[1:4]:
            timeline.append(entry)
        if status["phase"] in until:
            return {"status": status, "timeline": timeline, "weightAt": traffic_at, "endedAt": elapsed}
        time.sleep(0.5)
    raise AssertionError(f"no phase in {until} within {limit_seconds}s: {timeline}")


def main() -> None:
    for label, rate, until in (("healthy canary", 0.0, {"Stable"}), ("canary with 20% errors", 0.2, {"RolledBack"})):
        with live_setup(rate) as url:
            result = run_rollout(url, until=until)
        status = result["status"]
        print(f"\n{label}: {status['phase']} after {result['endedAt']:.1f}s; reason {status.get('reason')}")
        for elapsed, phase, weight, verdict, numbers in result["timeline"]:
            print(f"  {elapsed:5.1f}s  {phase:<11} weight {weight:<3} {verdict or '-':<12} {numbers or ''}")
        if result["weightAt"] is not None:
            spent = result["endedAt"] - result["weightAt"]
            print(
                f"  first weight at {result['weightAt']:.1f}s; {result['status']['phase']} {spent:.1f}s later "
                f"({spent / INTERVAL_SECONDS:.2f} analysis intervals of {INTERVAL_SECONDS}s)"
            )


if __name__ == "__main__":
    main()
