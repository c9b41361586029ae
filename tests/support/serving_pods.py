"""A stand-in for the container runtime of inference pods on the cluster tier, for tests only.

kwok plays the kubelet: it gives each pod an address and a phase, but runs no program. For
every inference pod kwok started, this runs the pod's own `aurora-serve` command with the pod's
environment, listening on the pod's address (local to the test run's network namespace,
scripts/netns), with the models volume mapped to a local folder and the pod's /tmp to a folder
of its own. Once the server answers the readiness probe's path it marks the pod, and kwok's
`server-pod-ready` stage makes it Ready: endpoints, Services and the router then find a real
server at each ready pod's address. A pod being deleted keeps serving for its preStop sleep,
then gets SIGTERM and drains; once its program has stopped the pod is deleted for good (kwok
leaves inference pods to this, so a pod's address is not handed out again while its program
still listens there), as under a kubelet. `faults` adds environment per version (fault
injection), to play a version that answers errors.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.kube_cluster import Kube, KubeError, Resource
from tests.support.processes import Program, venv_program

PODS = Resource("v1", "pods")
SERVER_PODS = "app.kubernetes.io/name=aurora-server"
READY = "kwok.aurora.dev/ready"


def pod_port(container: dict, name: str) -> int:
    return next(p["containerPort"] for p in container.get("ports") or [] if p.get("name") == name)


def pre_stop_seconds(container: dict) -> int:
    return ((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)


class PodServer:
    """One pod's server process, on the pod's address."""

    def __init__(self, pod: dict, mounts: dict[str, str], work: Path, extra_env: dict):
        self.name, self.ip = pod["metadata"]["name"], pod["status"]["podIP"]
        self.container = pod["spec"]["containers"][0]
        self.version = pod["metadata"]["labels"].get("aurora.dev/model-version", "")
        self.marked = False
        folder = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=work))
        self.mounts = {**mounts, "/tmp": str(folder)}
        argv = [self.local(arg.replace("0.0.0.0", self.ip)) for arg in self.container["command"]]
        argv[0] = venv_program(argv[0])
        env = {item["name"]: self.local(item.get("value", "")) for item in self.container.get("env") or []}
        self.program = Program(argv, folder / "server.log", {**env, **extra_env, "HOME": str(folder)})
        probe = self.container["readinessProbe"]["httpGet"]
        self.ready_url = f"http://{self.ip}:{pod_port(self.container, probe['port'])}{probe['path']}"

    def local(self, value: str) -> str:
        """A path in the pod, as seen from this machine."""
        for mount, folder in self.mounts.items():
            if value == mount or value.startswith(mount + "/"):
                return folder + value[len(mount) :]
        return value

    def is_ready(self) -> bool:
        try:
            return requests.get(self.ready_url, timeout=1).ok
        except requests.RequestException:
            return False

    def exited(self) -> int | None:
        return self.program.process.poll()

    def terminate(self) -> None:
        """What a kubelet does to a pod being deleted: the preStop sleep, then SIGTERM and a drain."""
        time.sleep(pre_stop_seconds(self.container))
        self.program.stop(timeout=45)


class ServingPods(threading.Thread):
    """Runs the inference pods of one namespace until stopped."""

    def __init__(self, kube: Kube, namespace: str, model_root: Path, faults: dict | None = None):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.faults = kube, namespace, faults or {}
        self.mounts = {"/models": str(model_root)}
        self.work = Path(tempfile.mkdtemp(prefix="aurora-pods-"))
        self.servers: dict[str, PodServer] = {}
        self.stopping: list[threading.Thread] = []
        self.stopped = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.follow(self.kube.list(PODS, self.namespace, labelSelector=SERVER_PODS))
            except Exception as err:  # a stand-in that dies silently would hang the test instead
                self.errors.append(f"{type(err).__name__}: {err}")
            self.stopped.wait(0.2)

    def follow(self, pods: list[dict]) -> None:
        live = {p["metadata"]["uid"]: p for p in pods if not p["metadata"].get("deletionTimestamp")}
        for uid, pod in live.items():
            if uid not in self.servers and pod.get("status", {}).get("podIP"):
                version = pod["metadata"]["labels"].get("aurora.dev/model-version", "")
                self.servers[uid] = PodServer(pod, self.mounts, self.work, self.faults.get(version, {}))
        for uid in set(self.servers) - set(live):
            self.retire(self.servers.pop(uid))
        for server in self.servers.values():
            self.check(server)

    def check(self, server: PodServer) -> None:
        if server.exited() is not None:
            self.errors.append(f"the server of pod {server.name} exited:\n{server.program.tail()}")
            server.marked = True  # said once
        elif not server.marked and server.is_ready():
            patch = {"metadata": {"annotations": {READY: "true"}}}
            path = PODS.path(self.namespace, server.name)
            try:
                self.kube.call("PATCH", path, patch, None, "application/merge-patch+json")
            except KubeError as err:
                if err.status != 404:  # a pod deleted meanwhile needs no readiness
                    raise
            server.marked = True

    def retire(self, server: PodServer) -> None:
        def terminate_and_delete():
            server.terminate()
            try:
                self.kube.delete(PODS.path(self.namespace, server.name), {"gracePeriodSeconds": 0})
            except KubeError as err:
                if err.status != 404:
                    self.errors.append(f"deleting pod {server.name}: {err}")

        thread = threading.Thread(target=terminate_and_delete, daemon=True)
        thread.start()
        self.stopping.append(thread)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.join(timeout=30)
        for server in self.servers.values():
            server.program.stop()
        for thread in self.stopping:
            thread.join(timeout=60)
        return self.errors
