"""kube-state-metrics, built from its Go module, exports Aurora's custom resources from the real
API server with manifests/kube-state-metrics/custom-resource-state.yaml, as its own service account.

The series it serves are written to var/kube-state-metrics-series.txt.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import requests
import yaml

from tests.support.examples import create
from tests.support.kube_cluster import Resource, token_for
from tests.support.paths import ROOT
from tests.support.servers import free_port

pytestmark = pytest.mark.cluster
CONFIG = ROOT / "manifests" / "kube-state-metrics" / "custom-resource-state.yaml"
SERIES_FILE = ROOT / "var" / "kube-state-metrics-series.txt"
TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")

DEPLOYMENT_STATUS = {
    "phase": "Stable",
    "desiredVersion": "v20261126-090000",
    "stableVersion": "v20261126-090000",
    "canaryVersion": "",
    "canaryWeight": 0,
    "previousVersion": "v20261101-120000",
    "rollbackWindowEndsAt": "2026-11-26T10:15:00Z",
    "stable": {"version": "v20261126-090000", "replicas": 2, "readyReplicas": 2},
    "canary": {"replicas": 0, "readyReplicas": 0},
    "previous": {"version": "v20261101-120000", "replicas": 2, "readyReplicas": 2},
}
TRAINING_STATUS = {
    "phase": "Succeeded",
    "jobName": "housing-rf-train",
    "modelVersion": "v20261126-090000",
    "metrics": {"r2": 0.81, "rmse": 0.49, "mae": 0.33},
    "gatePassed": True,
}


def kubeconfig_for(cluster, token: str, path) -> str:
    server = cluster.config()["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "aurora", "cluster": server}],
        "users": [{"name": "kube-state-metrics", "user": {"token": token}}],
        "contexts": [{"name": "aurora", "context": {"cluster": "aurora", "user": "kube-state-metrics"}}],
        "current-context": "aurora",
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def exporter(cluster, aurora_installed, tmp_path_factory):
    """kube-state-metrics as the kind overlay's service account; the URL of its metrics."""
    folder = tmp_path_factory.mktemp("ksm")
    token = token_for(cluster, "aurora-system", "aurora-kube-state-metrics")
    port, telemetry = free_port(), free_port()
    command = [
        str(cluster.bin / "kube-state-metrics"),
        f"--kubeconfig={kubeconfig_for(cluster, token, folder / 'kubeconfig')}",
        "--custom-resource-state-only",
        f"--custom-resource-state-config-file={CONFIG}",
        "--host=127.0.0.1",
        f"--port={port}",
        "--telemetry-host=127.0.0.1",
        f"--telemetry-port={telemetry}",
    ]
    log = (folder / "ksm.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        readyz = f"http://127.0.0.1:{telemetry}/readyz"
        wait_for_kube_state_metrics(lambda: requests.get(readyz, timeout=1).ok, process, folder)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for_kube_state_metrics(ready, process, folder, seconds: float = 60) -> None:
    """Poll `ready` until it is true; fail at once, with the log's tail, if kube-state-metrics exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kube-state-metrics exited: {(folder / 'ksm.log').read_text()[-2000:]}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"kube-state-metrics not ready in {seconds}s: {(folder / 'ksm.log').read_text()[-2000:]}")


def aurora_series(url: str, namespace: str) -> dict[str, float]:
    """The exported aurora_* samples of one namespace, keyed by their text form (without value)."""
    found = {}
    for line in requests.get(url, timeout=5).text.splitlines():
        if line.startswith("aurora_") and f'namespace="{namespace}"' in line:
            series, value = line.rsplit(" ", 1)
            found[series] = float(value)
    return found


def sample(series: dict[str, float], metric: str, /, **labels: str) -> float | None:
    for text, value in series.items():
        if text.startswith(metric + "{") and all(f'{k}="{v}"' in text for k, v in labels.items()):
            return value
    return None


def test_every_rollout_and_training_series_comes_from_the_real_objects(cluster, namespace, exporter):
    create(cluster, "mldeployment", namespace, "housing", status=DEPLOYMENT_STATUS)
    create(cluster, "mltrainingjob", namespace, "housing-rf", status=TRAINING_STATUS)
    deadline, series = time.monotonic() + 30, {}
    while time.monotonic() < deadline and sample(series, "aurora_mltrainingjob_gate_passed") is None:
        time.sleep(0.5)
        series = aurora_series(exporter, namespace)
    d, t = "aurora_mldeployment", "aurora_mltrainingjob"
    assert sample(series, f"{d}_phase", phase="Stable", name="housing") == 1
    assert sample(series, f"{d}_phase", phase="RolledBack") == 0
    assert sample(series, f"{d}_canary_weight") == 0
    assert sample(series, f"{d}_desired_version_info", version="v20261126-090000") == 1
    assert sample(series, f"{d}_stable_version_info", version="v20261126-090000") == 1
    assert sample(series, f"{d}_previous_version_info", version="v20261101-120000") == 1
    assert sample(series, f"{d}_stable_ready_replicas") == 2
    assert sample(series, f"{d}_previous_ready_replicas") == 2
    assert sample(series, f"{t}_phase", phase="Succeeded", name="housing-rf") == 1
    assert sample(series, f"{t}_version_info", version="v20261126-090000") == 1
    assert sample(series, f"{t}_metric", metric="r2") == pytest.approx(0.81)
    assert sample(series, f"{t}_gate_passed") == 1
    # Every series carries the model, so alerts and panels can say which.
    assert all('model="california-housing"' in text for text in series)
    SERIES_FILE.parent.mkdir(exist_ok=True)
    listing = "\n".join(f"{text} {value:g}" for text, value in sorted(series.items()))
    SERIES_FILE.write_text(listing.replace(namespace, "ml") + "\n")


def test_a_rollback_shows_as_drift_between_desired_and_stable(cluster, namespace, exporter):
    rolled_back = {
        **DEPLOYMENT_STATUS,
        "phase": "RolledBack",
        "stableVersion": "v20261101-120000",
        "stable": {"version": "v20261101-120000", "replicas": 2, "readyReplicas": 2},
    }
    create(cluster, "mldeployment", namespace, "housing", status=rolled_back)
    deadline, series = time.monotonic() + 30, {}
    while time.monotonic() < deadline and sample(series, "aurora_mldeployment_phase", phase="RolledBack") != 1:
        time.sleep(0.5)
        series = aurora_series(exporter, namespace)
    assert sample(series, "aurora_mldeployment_desired_version_info", version="v20261126-090000") == 1
    assert sample(series, "aurora_mldeployment_stable_version_info", version="v20261101-120000") == 1
    assert sample(series, "aurora_mldeployment_stable_version_info", version="v20261126-090000") is None
