"""End to end on the real control plane: train, serve, roll out, promote, roll back at once, and
roll a broken canary back.

What runs for real: etcd, kube-apiserver, kube-controller-manager (Deployments, ReplicaSets,
Jobs with their pod failure policy, garbage collection), kube-scheduler, kwok (the kubelet's
pod and node status), `aurora-hooks` under gunicorn, `aurora-train`, `aurora-serve` under
gunicorn, Prometheus scraping the inference servers, and `kubectl get mld -w`.
Stand-ins, because the real thing cannot run here: Metacontroller's loop
(tests/metacontroller_standin.py), the container runtime for trainer and inference pods
(tests/trainer_kubelet.py, tests/serving_standins.py) and ingress-nginx's weighted split
(tests/serving_standins.py).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import require_tool
from tests.kube_cluster import Resource
from tests.metacontroller_standin import Loop, StandIn
from tests.serving_standins import Router, Tracks
from tests.test_gunicorn import free_port, wait_until
from tests.trainer_kubelet import TrainerKubelet

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parent.parent
TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")
DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")
INTERVAL_SECONDS = 3
TRANSCRIPT = ROOT / "var" / "cluster-e2e.txt"


def start_prometheus(work: Path, targets: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "inference", "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}]}
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            require_tool("prometheus"),
            f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    ready(process, lambda: requests.get(f"{url}/-/ready", timeout=2).ok, "Prometheus")
    return process, url


def start_hooks(work: Path, prometheus_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(work / "hooks-metrics"),
        "AURORA_PROMETHEUS_URL": prometheus_url,
        "AURORA_TRAINER_IMAGE": "aurora:dev",
        "AURORA_SERVER_IMAGE": "aurora:dev",
        "AURORA_DRAIN_SECONDS": "1",
    }
    script = Path(sys.executable).parent / "aurora-hooks"
    with open(work / "hooks.log", "w") as log:
        process = subprocess.Popen(
            [str(script), "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    ready(process, lambda: requests.get(f"{url}/healthz", timeout=2).ok, "aurora-hooks")
    return process, url


def ready(process: subprocess.Popen, check, what: str) -> None:
    """Wait for a started process to answer; stop it if it never does."""
    try:
        wait_until(check, 30, what)
    except AssertionError:
        stop_process(process)
        raise


def models_volume(namespace: str, folder: Path) -> str:
    """One static PV per namespace onto the shared folder, bound to that namespace's claim."""
    return f"""
apiVersion: v1
kind: PersistentVolume
metadata: {{name: aurora-models-{namespace}}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteMany]
  storageClassName: aurora-local
  persistentVolumeReclaimPolicy: Retain
  claimRef: {{namespace: {namespace}, name: aurora-models}}
  hostPath: {{path: {folder}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: aurora-models, namespace: {namespace}}}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: aurora-local
  volumeName: aurora-models-{namespace}
  resources: {{requests: {{storage: 1Gi}}}}
"""


def training_jobs(namespace: str) -> str:
    """Three runs of one model applied together, as a sweep in one GitOps change would be."""
    runs = []
    for name, alpha in (("diabetes-a", 1.0), ("diabetes-b", 0.5), ("diabetes-c", 0.25)):
        runs.append(
            f"""
apiVersion: aurora.dev/v1alpha1
kind: MLTrainingJob
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  model: diabetes
  dataset: {{builtin: diabetes}}
  estimator: {{type: ridge, params: {{alpha: {alpha}}}}}
  evaluation: {{gate: {{metric: r2, min: 0.2}}}}
"""
        )
    return "---".join(runs)


def ml_deployment(namespace: str, version: str) -> str:
    return f"""
apiVersion: aurora.dev/v1alpha1
kind: MLDeployment
metadata: {{name: diabetes, namespace: {namespace}}}
spec:
  model: diabetes
  version: {version}
  replicas: 2
  ingress: {{host: diabetes.example.com}}
  canary:
    replicas: 1
    steps: [{{setWeight: 20}}, {{setWeight: 50}}]
    analysis: {{interval: {INTERVAL_SECONDS}s, minRequests: 10, maxErrorRate: 0.05, failureLimit: 2}}
"""


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Platform:
    """Everything the scenario runs on, started in order and stopped in reverse (also when a
    start fails half way: nothing outlives the test)."""

    def __init__(self, cluster, namespace: str, work: Path):
        self.cluster, self.namespace, self.kube = cluster, namespace, cluster.admin()
        self.models, self.targets = work / "models", work / "targets.json"
        self.models.mkdir()
        self.targets.write_text("[]")
        self.errors: list[str] = []
        self.stack = contextlib.ExitStack()
        try:
            self.start(work)
        except BaseException:
            self.stack.close()
            raise

    def start(self, work: Path) -> None:
        prometheus, prometheus_url = start_prometheus(work, self.targets)
        self.stack.callback(stop_process, prometheus)
        hooks, hooks_url = start_hooks(work, prometheus_url)
        self.stack.callback(stop_process, hooks)
        controllers = ("mltrainingjob-controller", "mldeployment-controller")
        self.loop = Loop([StandIn(self.kube, name, hooks_url, self.namespace) for name in controllers])
        self.trainer = TrainerKubelet(self.kube, self.namespace, self.models)
        for thread in (self.loop, self.trainer):
            thread.start()
            self.stack.callback(lambda t=thread: self.errors.extend(t.stop()))
        self.watch_file = work / "watch.txt"
        watch_output = self.stack.enter_context(open(self.watch_file, "w"))
        self.watch = subprocess.Popen(
            [str(self.cluster.bin / "kubectl"), "get", "mld", "-n", self.namespace, "-w"],
            env={**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)},
            stdout=watch_output,
            stderr=subprocess.STDOUT,
        )
        self.stack.callback(stop_process, self.watch)

    def serve(self, faults: dict) -> None:
        self.tracks = Tracks(self.kube, self.namespace, "diabetes", self.models, self.targets, faults)
        self.router = Router(self.kube, self.namespace, "diabetes", self.tracks)
        self.tracks.start()
        self.stack.callback(lambda: self.errors.extend(self.tracks.stop()))
        self.stack.callback(lambda: self.router.is_alive() and self.router.stop())

    def route(self) -> None:
        self.router.start()

    def status(self, resource: Resource, name: str) -> dict:
        return self.kube.get(resource.path(self.namespace, name)).get("status") or {}

    def stop(self) -> list[str]:
        self.stack.close()
        return self.errors


@pytest.fixture
def platform(cluster, aurora_installed, namespace, tmp_path):
    running = Platform(cluster, namespace, tmp_path)
    yield running
    assert running.stop() == []


def test_train_serve_promote_and_roll_back_on_the_real_control_plane(cluster, platform, namespace):
    began = time.monotonic()
    cluster.kubectl("apply", "-f", "-", stdin=models_volume(namespace, platform.models))
    cluster.kubectl("apply", "-f", "-", stdin=training_jobs(namespace))

    # Three runs of one model, applied together: three versions, each trained for real.
    def trained():
        runs = [platform.status(TRAINING_JOBS, f"diabetes-{x}") for x in "abc"]
        return runs if all(run.get("phase") == "Succeeded" for run in runs) else None

    runs = wait_until(trained, 90, "three training runs to succeed")
    versions = [run["modelVersion"] for run in runs]
    assert versions == sorted(set(versions)) and all(run["metrics"]["r2"] > 0.2 for run in runs)
    assert all(run["gatePassed"] and run["promoted"] for run in runs)
    trained_at = time.monotonic() - began
    good, newer, broken = versions

    # A version that answers 30 % errors stands in for a broken model.
    platform.serve(faults={broken: {"AURORA_FAULT_ERROR_RATE": "0.3"}})
    cluster.kubectl("apply", "-f", "-", stdin=ml_deployment(namespace, good))

    def stable_on(version: str):
        status = platform.status(DEPLOYMENTS, "diabetes")
        ready = (status.get("stable") or {}).get("readyReplicas")
        return status if (status.get("phase"), status.get("stableVersion"), ready) == ("Stable", version, 2) else None

    wait_until(lambda: stable_on(good), 60, "the first version to be served")
    served_at = time.monotonic() - began
    platform.route()

    # A new version goes through the canary weights to promotion.
    weights, checks = set(), []

    def promoted():
        status = platform.status(DEPLOYMENTS, "diabetes")
        weights.add(status.get("canaryWeight"))
        note_check(checks, status)
        return stable_on(newer) if not status.get("canaryVersion") else None

    rollout_began = time.monotonic()
    cluster.kubectl(
        "patch", "mld", "diabetes", "-n", namespace, "--type=merge", "-p", f'{{"spec":{{"version":"{newer}"}}}}'
    )
    status = wait_until(promoted, 90, "the canary to be promoted", interval=0.1)
    promoted_after = time.monotonic() - rollout_began
    assert {20, 50} <= weights and status["reason"] == "Promoted"

    # The replaced version stays ready on the previous track; aurora.dev/rollback sends all
    # traffic back to it at once, and the stable track follows.
    def previous_ready():
        status = platform.status(DEPLOYMENTS, "diabetes")
        return status if (status.get("previous") or {}).get("readyReplicas") == 2 else None

    assert wait_until(previous_ready, 60, "the previous track to be ready")["previousVersion"] == good
    platform.router.first_answer.pop(good, None)
    rollback_asked = time.monotonic()
    cluster.kubectl("annotate", "mld", "diabetes", "-n", namespace, "aurora.dev/rollback=e2e")
    wait_until(lambda: good in platform.router.first_answer, 30, "the previous version to answer", interval=0.05)
    switched_after = platform.router.first_answer[good] - rollback_asked

    def back_on_good():
        status = platform.status(DEPLOYMENTS, "diabetes")
        settled = not status.get("trafficOnPrevious") and not status.get("previousVersion")
        return (
            status if status.get("stable") == {"version": good, "replicas": 2, "readyReplicas": 2} and settled else None
        )

    status = wait_until(back_on_good, 60, "the stable track to run the previous version", interval=0.1)
    restored_after = time.monotonic() - rollback_asked
    assert (status["phase"], status["reason"], status["failedVersion"]) == ("RolledBack", "RollbackRequested", newer)

    # A version that fails its analysis is rolled back; stable never moved.
    def rolled_back():
        status = platform.status(DEPLOYMENTS, "diabetes")
        note_check(checks, status)
        failed = status.get("failedVersion") == broken
        return status if failed and status.get("phase") == "RolledBack" and not status.get("canaryVersion") else None

    rollback_began = time.monotonic()
    cluster.kubectl(
        "patch", "mld", "diabetes", "-n", namespace, "--type=merge", "-p", f'{{"spec":{{"version":"{broken}"}}}}'
    )
    status = wait_until(rolled_back, 90, "the broken canary to be rolled back", interval=0.1)
    rolled_back_after = time.monotonic() - rollback_began
    assert status["stableVersion"] == good and status["canaryWeight"] == 0
    assert "error rate" in status["message"]

    # Once the canary is drained and gone the status settles: no status write causes another.
    def writes() -> int:
        return sum(standin.status_writes for standin in platform.loop.standins)

    seen = [writes(), time.monotonic()]

    def settled() -> bool:
        if writes() != seen[0]:
            seen[:] = [writes(), time.monotonic()]
        return time.monotonic() - seen[1] > 3

    wait_until(settled, 20, "the status to stop changing", interval=0.2)

    answers = platform.router.stop()
    assert answers[("canary", 500)] > 0 and answers[("stable", 200)] > 0
    # Promotion and rollback dropped nothing: no request found its track without a server.
    assert answers[("stable", 500)] == 0 and answers[("stable", "unanswered")] == 0
    assert answers[("stable", "no backend")] == answers[("canary", "no backend")] == 0
    time.sleep(1)
    stop_process(platform.watch)
    times = (trained_at, served_at, promoted_after, switched_after, restored_after, rolled_back_after)
    report(cluster, namespace, platform, times, answers, checks)


def note_check(checks: list[str], status: dict) -> None:
    """Each analysis check once, as the status records it."""
    analysis = status.get("analysis") or {}
    if analysis.get("time") and (not checks or not checks[-1].startswith(analysis["time"])):
        step = f"step {analysis.get('step', 0) + 1}"
        checks.append(f"{analysis['time']} {step}: {analysis.get('verdict')}, {analysis.get('message')}")


def report(cluster, namespace, platform, times, answers, checks) -> None:
    trained_at, served_at, promoted_after, switched_after, restored_after, rolled_back_after = times
    tables = cluster.kubectl("get", "mltj,mld", "-n", namespace).stdout
    text = (
        f"trained 3 versions in {trained_at:.1f} s; first version served at {served_at:.1f} s;\n"
        f"canary promoted {promoted_after:.1f} s after the version change; aurora.dev/rollback: the "
        f"previous version answered {switched_after:.2f} s after the annotation, the stable track ran it "
        f"again {restored_after:.1f} s after;\nbroken canary rolled back "
        f"{rolled_back_after:.1f} s after its version change; analysis interval {INTERVAL_SECONDS} s\n"
        f"requests answered: {dict(sorted((f'{t} {c}', n) for (t, c), n in answers.items()))}\n"
        f"answered by version: {dict(sorted(platform.router.versions.items()))}\n\n"
        f"$ kubectl get mld -w\n{platform.watch_file.read_text()}\n$ kubectl get mltj,mld\n{tables}\n"
        f"analysis checks (status.analysis):\n" + "\n".join(checks) + "\n"
    )
    TRANSCRIPT.parent.mkdir(exist_ok=True)
    TRANSCRIPT.write_text(text)
    print(text)
