"""Keeping the fleet of inference series in step with the inference pods: every pod that exists
and is not being deleted answers at the run's rate (kwok makes them Ready at once), the bad
version's pods failing a share of their requests.

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
        self.bad_versions: set[str] = set()
        self.targets: set[Target] = set()
        self.halt = threading.Event()

    def fail(self, version: str) -> None:
        """Pods of `version` fail from now on, those running and those to come."""
        self.bad_versions.add(version)

    def behaviour(self, target: Target) -> Behaviour:
        return failing(BAD_ERROR_RATE, self.healthy) if target.model_version in self.bad_versions else self.healthy

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
