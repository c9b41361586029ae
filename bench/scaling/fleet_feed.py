"""Keeping the fleet of inference series in step with the inference pods: every pod that exists
and is not being deleted answers at the run's rate (kwok makes them Ready at once), the pods of
a bad new version failing a share of their requests.

Pods are listed as metadata only (labels, deletion), every two seconds: a full list of a thousand
pods a second would cost this machine more than the hooks do.
"""

from __future__ import annotations

import threading

from aurora_api import labels as label
from tests.support.fleet import Behaviour, Fleet, Target, failing

SERVER_PODS = "app.kubernetes.io/name=aurora-server"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# The bad version's pods fail this share of their requests: over maxErrorRate (0.05) at once.
BAD_ERROR_RATE = 0.2


class FleetFeed(threading.Thread):
    def __init__(self, kube, fleet: Fleet, requests_per_second: float):
        super().__init__(daemon=True)
        self.kube, self.fleet = kube, fleet
        self.healthy = Behaviour(requests_per_second=requests_per_second)
        # (namespace, model) -> the version it serves: every other version of that model is bad.
        self.bad_models: dict[tuple[str, str], str] = {}
        self.targets: set[Target] = set()
        self.halt = threading.Event()

    def fail_new(self, namespace: str, model: str, serving: str) -> None:
        """The pods to come of any version of the model but `serving` fail. Versions are named by
        the time their run chose them: another model may well have one of the same name."""
        self.bad_models[(namespace, model)] = serving

    def behaviour(self, target: Target) -> Behaviour:
        serving = self.bad_models.get((target.namespace, target.model))
        return failing(BAD_ERROR_RATE, self.healthy) if serving not in (None, target.model_version) else self.healthy

    def run(self) -> None:
        while not self.halt.wait(2.0):
            try:
                current = self.listed()
            except Exception:  # noqa: BLE001 - an API server restarting is one of the faults
                continue
            for target in current - self.targets:
                self.fleet.add(target, self.behaviour(target))
            for target in self.targets - current:
                self.fleet.remove(target)
            self.targets = current

    def listed(self) -> set[Target]:
        answer = self.kube.session.get(
            self.kube.server + "/api/v1/pods",
            params={"labelSelector": SERVER_PODS},
            headers={"Accept": METADATA_ONLY},
            timeout=30,
            verify=self.kube.ca,
        )
        answer.raise_for_status()
        return {
            target_of(item["metadata"])
            for item in answer.json()["items"]
            if not item["metadata"].get("deletionTimestamp")
        }

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


def target_of(metadata: dict) -> Target:
    labels = metadata.get("labels") or {}
    return Target(
        metadata["namespace"],
        metadata["name"],
        labels.get(label.MODEL, ""),
        labels.get(label.VERSION, ""),
        labels.get(label.TRACK, ""),
    )
