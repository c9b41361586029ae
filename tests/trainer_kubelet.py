"""A stand-in for the kubelet of training pods, for tests only: runs the real `aurora-train`.

kwok plays the kubelet on the cluster tier, but it runs no program. For the trainer that
would leave a training run without its outcome, so this thread does the container's work:
for every running trainer pod it runs `aurora-train` with the pod's own arguments and
environment (the models volume mapped to a local folder), then records the exit code and
the JSON summary on the pod; kwok's `trainer-pod-finish` stage (cluster/kwok/stages.yaml)
turns them into the terminated container state and the pod phase, and the real Job
controller takes it from there (success, pod failure policy, retries).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.kube_cluster import Kube, Resource

PODS = Resource("v1", "pods")
TRAINER_PODS = "app.kubernetes.io/name=aurora-trainer"
EXIT_CODE, MESSAGE = "kwok.aurora.dev/exit-code", "kwok.aurora.dev/termination-message"


class TrainerKubelet(threading.Thread):
    def __init__(self, kube: Kube, namespace: str, model_root: Path, *, mount: str = "/models"):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.model_root, self.mount = kube, namespace, model_root, mount
        self.stopped = threading.Event()
        self.runs: list[dict] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                for pod in self.kube.list(PODS, self.namespace, labelSelector=TRAINER_PODS):
                    if is_waiting_for_its_program(pod):
                        self.run_trainer(pod)
            except Exception as err:  # a thread that died silently would hang the test instead
                self.errors.append(f"{type(err).__name__}: {err}")
            self.stopped.wait(0.3)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.join(timeout=30)
        return self.errors

    def run_trainer(self, pod: dict) -> None:
        container = pod["spec"]["containers"][0]
        args = [self.local(arg) for arg in container.get("args") or []]
        env = {item["name"]: self.local(item.get("value", "")) for item in container.get("env") or []}
        program = os.path.join(os.path.dirname(sys.executable), container["command"][0])
        result = subprocess.run(
            [program, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **env, "HOME": "/tmp"}
        )
        self.runs.append({"pod": pod["metadata"]["name"], "args": args, "exitCode": result.returncode})
        annotations = {EXIT_CODE: str(result.returncode), MESSAGE: result.stdout.strip()[-4096:]}
        metadata = pod["metadata"]
        self.kube.call(
            "PATCH",
            PODS.path(metadata["namespace"], metadata["name"]),
            {"metadata": {"annotations": annotations}},
            content_type="application/merge-patch+json",
        )

    def local(self, value: str) -> str:
        """A path on the models volume, as seen from this machine."""
        if value == self.mount or value.startswith(self.mount + "/"):
            return str(self.model_root) + value[len(self.mount) :]
        return value


def is_waiting_for_its_program(pod: dict) -> bool:
    metadata = pod["metadata"]
    return (
        pod.get("status", {}).get("phase") == "Running"
        and EXIT_CODE not in (metadata.get("annotations") or {})
        and not metadata.get("deletionTimestamp")
    )
