"""Aurora on the cluster tier, as an operator runs it: the real Metacontroller calling `aurora-hooks`,
training and inference pods of Aurora's image on the real node (scripts/node), Prometheus
scraping the inference pods at their addresses, and `kubectl get mld -w`.

The test's namespace sends every pod to the real node (PodNodeSelector and
PodTolerationRestriction, enabled on the API server: the node is tainted for everyone else).
Everything starts in order and stops in reverse, also when a start fails half way: nothing
outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from hooks.inference_objects import PORT
from hooks.podsecurity import USER_ID
from tests.support.kube_cluster import KubeError, Resource
from tests.support.metacontroller import running_metacontroller
from tests.support.models import train
from tests.support.processes import start_hooks, start_prometheus

TRAINING_JOBS = Resource("aurora.dev/v1alpha1", "mltrainingjobs")
PODS = Resource("v1", "pods")
SERVER_PODS = "app.kubernetes.io/name=aurora-server"
MERGE = "application/merge-patch+json"
# The real node of scripts/node: its name, its label and its taint.
REAL_NODE, REAL_NODE_LABEL = "aurora-node", "aurora.dev/node"
REAL_NODE_TOLERATION = {"key": "aurora.dev/real-node", "operator": "Exists", "effect": "NoSchedule"}
DEPLOYMENTS = Resource("aurora.dev/v1alpha1", "mldeployments")


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


def prometheus_config(targets: Path) -> dict:
    """Scrape the inference pods listed in `targets` (file_sd, kept by PodTargets)."""
    discovery = {"files": [str(targets)], "refresh_interval": "1s"}
    job = {"job_name": "inference", "file_sd_configs": [discovery]}
    return {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": [job]}


class PodTargets(threading.Thread):
    """What Prometheus's Kubernetes discovery and the PodMonitor of manifests/base/monitoring.yaml
    give in a cluster, for Debian's Prometheus, which is built without Kubernetes discovery: the
    `http` port of every inference pod of the namespace that has an address, labelled with the
    namespace, written as a file_sd target file."""

    def __init__(self, kube, namespace: str, targets: Path):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.targets = kube, namespace, targets
        self.stopped = threading.Event()
        self.errors: list[str] = []
        self.write([])

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                pods = self.kube.list(PODS, self.namespace, labelSelector=SERVER_PODS)
                self.write(sorted(f"{p['status']['podIP']}:{PORT}" for p in pods if p.get("status", {}).get("podIP")))
            except Exception as err:  # a thread that died silently would hang the test instead
                self.errors.append(f"{type(err).__name__}: {err}")
            self.stopped.wait(0.5)

    def write(self, addresses: list[str]) -> None:
        partial = self.targets.with_suffix(".partial")
        partial.write_text(json.dumps([{"targets": addresses, "labels": {"namespace": self.namespace}}]))
        partial.replace(self.targets)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.join(timeout=10)
        return self.errors


def on_the_real_node(kube, namespace: str) -> None:
    """Every pod of the namespace goes to the real node, and only there."""
    annotations = {
        "scheduler.alpha.kubernetes.io/node-selector": f"{REAL_NODE_LABEL}=real",
        "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps([REAL_NODE_TOLERATION]),
    }
    kube.call("PATCH", f"/api/v1/namespaces/{namespace}", {"metadata": {"annotations": annotations}}, None, MERGE)


def real_node_ready(kube) -> bool:
    try:
        conditions = kube.get(f"/api/v1/nodes/{REAL_NODE}")["status"].get("conditions") or []
    except KubeError:
        return False
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def pods_may_write(folder: Path) -> None:
    """What an administrator does to a hostPath or NFS volume: make it the pods' user's (fsGroup
    does it only for volume types that manage ownership)."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, USER_ID, USER_ID)


class Platform:
    """The test's namespace with Aurora running on it; `stop()` returns what went wrong beside."""

    def __init__(self, cluster, namespace: str, work: Path, *, strategy: str = "dynamic-apply"):
        self.cluster, self.namespace, self.kube, self.work = cluster, namespace, cluster.admin(), work
        if not real_node_ready(self.kube):
            why = f"the real node {REAL_NODE} is not Ready (scripts/node needs root, containerd and the image)"
            pytest.fail(why) if os.environ.get("CI") == "true" else pytest.skip(why)
        self.models = work / "models"
        self.models.mkdir(exist_ok=True)
        pods_may_write(self.models)
        self.errors: list[str] = []
        self.stack = contextlib.ExitStack()
        try:
            self.start(strategy)
        except BaseException:
            self.stack.close()
            raise

    def start(self, strategy: str) -> None:
        on_the_real_node(self.kube, self.namespace)
        self.cluster.kubectl("apply", "-f", "-", stdin=models_volume(self.namespace, self.models))
        self.prometheus_url = self.start_prometheus()
        hooks_url = self.start_hooks()
        self.metacontroller = self.stack.enter_context(
            running_metacontroller(self.cluster, hooks_url, self.work, strategy)
        )
        self.watch_file = self.work / "watch.txt"
        watch_output = self.stack.enter_context(open(self.watch_file, "w"))
        self.watch = subprocess.Popen(
            [str(self.cluster.bin / "kubectl"), "get", "mld", "-n", self.namespace, "-w"],
            env={**os.environ, "KUBECONFIG": str(self.cluster.kubeconfig)},
            stdout=watch_output,
            stderr=subprocess.STDOUT,
        )
        self.stack.callback(self.stop_watch)

    def start_prometheus(self) -> str:
        targets = self.work / "targets.json"
        discovery = PodTargets(self.kube, self.namespace, targets)
        discovery.start()
        self.stack.callback(lambda: self.errors.extend(discovery.stop()))
        program = start_prometheus(prometheus_config(targets), self.work)
        self.stack.callback(program.stop)
        return program.url

    def start_hooks(self) -> str:
        images = {"AURORA_TRAINER_IMAGE": "aurora:dev", "AURORA_SERVER_IMAGE": "aurora:dev"}
        program = start_hooks(self.prometheus_url, self.work, images)
        self.stack.callback(program.stop)
        return program.url

    def apply(self, manifest: str) -> None:
        self.cluster.kubectl("apply", "-f", "-", stdin=manifest)

    def publish(self, *args: str) -> str:
        """A version trained here and put on the models volume, as a run elsewhere would; its id."""
        code, summary = train(self.models, "diabetes", *args)
        assert code == 0, summary
        pods_may_write(self.models)
        return summary["version"]

    def pods(self) -> str:
        """`kubectl get pods -o wide` of the namespace."""
        return self.cluster.kubectl("get", "pods", "-o", "wide", "-n", self.namespace).stdout

    def status(self, resource: Resource, name: str) -> dict:
        return self.kube.get(resource.path(self.namespace, name)).get("status") or {}

    def stop_watch(self) -> None:
        if self.watch.poll() is None:
            self.watch.terminate()
            self.watch.wait(timeout=10)

    def stop(self) -> list[str]:
        self.stack.close()
        return self.errors
