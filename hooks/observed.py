"""One MLDeployment sync request, read once at the webhook boundary: the parent, its spec with
defaults, its previous status, its tracks and every other object Metacontroller observed.

Decisions and builders take this, never the request: a malformed request is refused here
(MalformedRequest, answered 400) before anything is decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from aurora_api import labels as label
from hooks import inference_objects as objects
from hooks.deployment_spec import read_spec
from hooks.gateway_features import GATEWAY_CLASS_KEY
from hooks.request import observed_group, parent_parts
from hooks.routes import INGRESS_KEY, ROUTE_KEY
from hooks.version_source import TRAINING_JOB_KEY

DEPLOYMENT_KEY, SERVICE_KEY = "Deployment.apps/v1", "Service.v1"
AUTOSCALER_KEY = "HorizontalPodAutoscaler.autoscaling/v2"
CHILD_KEYS = (DEPLOYMENT_KEY, SERVICE_KEY, INGRESS_KEY, ROUTE_KEY, AUTOSCALER_KEY)


class Tracks(NamedTuple):
    """The tracks' Deployments as observed; None for a track that has none."""

    stable: dict | None
    canary: dict | None
    previous: dict | None


@dataclass(frozen=True, slots=True)
class Observed:
    parent: dict
    spec: dict  # with its defaults; as written when a field has the wrong type
    wrong_types: list[str]  # the spec's fields of the wrong type
    status: dict  # the previous status, {} when there is none
    children: dict[str, dict[str, dict]]  # observed children: by group key, then by name
    tracks: Tracks
    training_jobs: dict[str, dict]  # related: the MLTrainingJob spec.versionFrom follows
    gateway_classes: dict[str, dict]  # related: asked for when a Gateway API route mirrors

    @property
    def name(self) -> str:
        return self.parent["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.parent["metadata"].get("namespace", "")

    @property
    def generation(self) -> int:
        return self.parent["metadata"].get("generation", 0)

    @property
    def annotations(self) -> dict:
        annotations = self.parent["metadata"].get("annotations")
        return annotations if isinstance(annotations, dict) else {}


def read_observed(request: dict) -> Observed:
    parent, written, status = parent_parts(request)
    spec, wrong_types = read_spec(written)
    children = {key: observed_group(request, key) for key in CHILD_KEYS}
    deployments = children[DEPLOYMENT_KEY]
    return Observed(
        parent=parent,
        spec=spec,
        wrong_types=wrong_types,
        status=status,
        children=children,
        tracks=Tracks(*(deployments.get(objects.child_name(parent, track)) for track in objects.TRACKS)),
        training_jobs=observed_group(request, TRAINING_JOB_KEY, "related"),
        gateway_classes=observed_group(request, GATEWAY_CLASS_KEY, "related"),
    )


def deployment_version(deployment: dict) -> str:
    labels = deployment.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    version = labels.get(label.VERSION, "")
    return version if isinstance(version, str) else ""


def running_version(tracks: Tracks) -> str:
    """The version the stable track runs, '' when it has none."""
    return deployment_version(tracks.stable) if tracks.stable else ""


def is_rolled_out(deployment: dict | None, version: str, replicas: int) -> bool:
    """True when a Deployment runs `version` on all its replicas, all ready and updated."""
    if not deployment or deployment_version(deployment) != version:
        return False
    status = deployment.get("status") or {}
    current = status.get("observedGeneration", 0) >= deployment.get("metadata", {}).get("generation", 0)
    return current and all(
        status.get(k, 0) >= replicas for k in ("updatedReplicas", "readyReplicas", "availableReplicas")
    )
