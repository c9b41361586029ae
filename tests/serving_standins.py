"""Stand-ins for the data path of inference pods on the cluster tier, for tests only.

kwok runs no container, and no ingress controller runs here, so two threads do their work:
- `Tracks` plays the kubelet of inference pods. For every Deployment of an MLDeployment it
  keeps one real `aurora-serve` (gunicorn) running the version and track its pod template
  says, with the pod's environment and the models volume mapped to a local folder: one
  process per Deployment, not per replica. A pod becomes Ready (kwok's `pod-start` stage
  waits for the `kwok.aurora.dev/ready` annotation) only once the process for its version
  answers, as a readiness probe would say. A changed version gets its new process before the
  old one stops, as a rolling update with surge does. The processes are listed in a
  Prometheus file_sd target file with the namespace label, as the PodMonitor's relabelling
  gives it in a cluster. `faults` adds environment per version (fault injection), to play a
  version that answers errors.
- `Router` plays ingress-nginx: each request goes to the canary with the probability the
  canary Ingress's `canary-weight` annotation gives, else to the stable route; each route's
  Service selector picks the pods (of any Deployment) it sends to, as endpoints would.
"""

from __future__ import annotations

import collections
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.kube_cluster import Kube, KubeError, Resource
from tests.test_gunicorn import ROW, Server

DEPLOYMENTS = Resource("apps/v1", "deployments")
PODS = Resource("v1", "pods")
READY = "kwok.aurora.dev/ready"
INGRESSES = Resource("networking.k8s.io/v1", "ingresses")
SERVICES = Resource("v1", "services")
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
LABEL_VERSION = "aurora.dev/model-version"


def pod_env(deployment: dict) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container.get("env") or []}


class Tracks(threading.Thread):
    def __init__(self, kube: Kube, namespace: str, name: str, model_root: Path, targets: Path, faults=None):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.name = kube, namespace, name
        self.model_root, self.targets, self.faults = model_root, targets, faults or {}
        self.work = Path(tempfile.mkdtemp(prefix="aurora-tracks-"))
        self.servers: dict[str, tuple[str, Server]] = {}
        self.labels: dict[str, dict] = {}  # each Deployment's pod labels, what Services select on
        self.stopped = threading.Event()
        self.errors: list[str] = []

    def backends(self, selector: dict) -> list[tuple[str, str]]:
        """(version, url) of every running server whose pods the selector matches: the pods run
        their Deployment's labels with the version of the server actually running."""
        found = []
        for name, (version, server) in list(self.servers.items()):
            labels = {**self.labels.get(name, {}), LABEL_VERSION: version}
            if selector and selector.items() <= labels.items():
                found.append((version, server.url))
        return found

    def run(self) -> None:
        while not self.stopped.is_set():
            selector = f"aurora.dev/deployment={self.name}"
            try:
                self.follow(self.kube.list(DEPLOYMENTS, self.namespace, labelSelector=selector))
                self.mark_ready(self.kube.list(PODS, self.namespace, labelSelector=selector))
            except Exception as err:  # a stand-in that dies silently would hang the test instead
                self.errors.append(f"{type(err).__name__}: {err}")
            self.stopped.wait(0.3)

    def follow(self, deployments: list[dict]) -> None:
        live = [d for d in deployments if not d["metadata"].get("deletionTimestamp")]
        wanted = {d["metadata"]["name"]: pod_env(d) for d in live}
        for d in live:
            self.labels[d["metadata"]["name"]] = d["spec"]["template"]["metadata"].get("labels") or {}
        for name, env in wanted.items():
            version = env["AURORA_MODEL_VERSION"]
            if self.servers.get(name, ("",))[0] != version:
                self.replace(name, version, self.start_server(name, env))
        for name in set(self.servers) - set(wanted):
            self.replace(name, "", None)

    def mark_ready(self, pods: list[dict]) -> None:
        """Pods whose version has a running server pass their readiness probe."""
        for pod in pods:
            metadata = pod["metadata"]
            labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
            serving = self.servers.get(f"{self.name}-{labels.get('aurora.dev/track')}", ("",))[0]
            if READY in annotations or metadata.get("deletionTimestamp") or serving != labels.get(LABEL_VERSION):
                continue
            patch = {"metadata": {"annotations": {READY: "true"}}}
            path = PODS.path(self.namespace, metadata["name"])
            self.kube.call("PATCH", path, patch, None, "application/merge-patch+json")

    def start_server(self, name: str, env: dict[str, str]) -> Server:
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work))
        settings = {**env, "AURORA_MODEL_ROOT": str(self.model_root), "PROMETHEUS_MULTIPROC_DIR": str(folder / "m")}
        return Server(self.model_root, folder, **settings, **self.faults.get(env["AURORA_MODEL_VERSION"], {}))

    def replace(self, name: str, version: str, server: Server | None) -> None:
        old = self.servers.pop(name, None)
        if server is not None:
            self.servers[name] = (version, server)
        self.write_targets()
        if old is not None:
            threading.Thread(target=old[1].stop, daemon=True).start()

    def write_targets(self) -> None:
        targets = [f"127.0.0.1:{server.port}" for _, server in self.servers.values()]
        body = [{"targets": targets, "labels": {"namespace": self.namespace}}]
        partial = self.targets.with_suffix(".partial")
        partial.write_text(json.dumps(body))
        partial.replace(self.targets)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.join(timeout=30)
        for _, server in self.servers.values():
            server.stop()
        return self.errors


class Router(threading.Thread):
    """About 80 requests a second, split between the routes by the canary Ingress's weight.

    `answers` counts (route, status) and `versions` the version that answered each 200;
    `first_answer[version]` is when a version first answered.
    """

    def __init__(self, kube: Kube, namespace: str, name: str, tracks: Tracks):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.name, self.tracks = kube, namespace, name, tracks
        self.weight, self.selectors, self.read_at = 0, {}, 0.0
        self.answers: collections.Counter = collections.Counter()
        self.versions: collections.Counter = collections.Counter()
        self.first_answer: dict[str, float] = {}
        self.stopped = threading.Event()

    def read_routes(self) -> None:
        """The canary weight and each route's Service selector, as the controller last wrote them."""
        if time.monotonic() - self.read_at <= 0.3:
            return
        self.read_at = time.monotonic()
        try:
            ingress = self.kube.get(INGRESSES.path(self.namespace, f"{self.name}-canary"))
            self.weight = int(ingress["metadata"].get("annotations", {}).get(WEIGHT, "0"))
        except KubeError:
            self.weight = 0
        for route in ("stable", "canary"):
            try:
                service = self.kube.get(SERVICES.path(self.namespace, f"{self.name}-{route}"))
                self.selectors[route] = service["spec"].get("selector") or {}
            except KubeError:
                self.selectors[route] = {}

    def run(self) -> None:
        session = requests.Session()
        while not self.stopped.is_set():
            self.read_routes()
            route = "canary" if random.random() * 100 < self.weight else "stable"
            backends = self.tracks.backends(self.selectors.get(route, {}))
            if not backends:
                # ingress-nginx would answer 503: the route's Service has no endpoint.
                self.answers[(route, "no backend")] += 1
            else:
                version, url = random.choice(backends)
                try:
                    answer = session.post(f"{url}/predict", json={"instances": [ROW]}, timeout=2)
                    self.answers[(route, answer.status_code)] += 1
                    if answer.status_code == 200:
                        self.versions[version] += 1
                        self.first_answer.setdefault(version, time.monotonic())
                except requests.RequestException:
                    self.answers[(route, "unanswered")] += 1
            time.sleep(0.0125)

    def stop(self) -> collections.Counter:
        self.stopped.set()
        self.join(timeout=10)
        return self.answers
