"""Every manifest a user applies, accepted by a real API server (the cluster tier, scripts/cluster)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.kube_cluster import Resource, wait
from tests.test_deploy import built
from tests.test_manifests import ROOT, documents

pytestmark = pytest.mark.cluster
DEPLOYMENTS = Resource("apps/v1", "deployments")


def test_every_object_of_the_kind_overlay_is_accepted_by_server_side_apply(cluster, aurora_installed):
    objects = built("kind")
    assert aurora_installed.count("serverside-applied") == len(objects)
    for obj in objects:
        assert cluster.admin().read(obj)["metadata"]["uid"], f"{obj['kind']}/{obj['metadata']['name']}"


def test_applying_the_overlay_again_changes_nothing(cluster, aurora_installed):
    kube = cluster.admin()
    before = {(o["kind"], o["metadata"]["name"]): kube.read(o)["metadata"]["resourceVersion"] for o in built("kind")}
    cluster.kubectl("apply", "--server-side", "-k", "manifests/overlays/kind")
    after = {(o["kind"], o["metadata"]["name"]): kube.read(o)["metadata"]["resourceVersion"] for o in built("kind")}
    assert after == before


def moved(obj: dict, namespace: str) -> dict:
    """An object of an overlay with the aurora-system namespace replaced by another."""
    text = yaml.safe_dump(obj).replace("aurora-system", namespace)
    return yaml.safe_load(text)


def test_the_production_overlay_passes_a_server_side_dry_run(cluster, aurora_installed, namespace):
    # In a namespace of its own: its models claim differs from the kind overlay's, and claims are
    # immutable. Its cluster-wide objects exist already, possibly applied by another field manager
    # (aurora-control-api bootstrap): an upgrade takes them over, as `--force-conflicts` says.
    objects = [moved(obj, namespace) for obj in built("production")]
    result = cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(objects)
    )
    assert result.stdout.count("(server dry run)") == len(objects)


def test_platform_pods_are_admitted_under_the_restricted_pod_security_profile(cluster, aurora_installed):
    namespace = cluster.admin().get("/api/v1/namespaces/aurora-system")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    def available() -> bool:
        deployments = cluster.admin().list(DEPLOYMENTS, "aurora-system")
        return {d["metadata"]["name"] for d in deployments if d["status"].get("availableReplicas")} == {
            "aurora-hooks",
            "aurora-control-api",
        }

    # Pods rejected by Pod Security admission would leave the Deployments unavailable.
    wait(available, 60, "the hooks and the control API to have available pods")


def test_the_models_claim_binds_to_the_kind_volume(cluster, aurora_installed):
    def bound():
        claim = cluster.admin().get("/api/v1/namespaces/aurora-system/persistentvolumeclaims/aurora-models")
        return claim["status"].get("phase") == "Bound" and claim["spec"]["volumeName"] == "aurora-models"

    wait(bound, 60, "the aurora-models claim to bind")


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_the_examples_are_accepted(cluster, aurora_installed, namespace, example):
    for document in documents(example):
        document = copy.deepcopy(document)
        document["metadata"]["namespace"] = namespace
        result = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(document))
        assert "serverside-applied" in result.stdout
