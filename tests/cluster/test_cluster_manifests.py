"""Every manifest a user applies, accepted by a real API server (the cluster tier, scripts/cluster)."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.support.documents import built, documents
from tests.support.kube_cluster import Resource
from tests.support.paths import ROOT
from tests.support.waiting import wait_until

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
            "aurora-kube-state-metrics",
        }

    # Pods rejected by Pod Security admission would leave the Deployments unavailable.
    wait_until(available, 60, "the hooks, the control API and kube-state-metrics to have available pods")


def test_the_models_claim_binds_to_the_kind_volume(cluster, aurora_installed):
    def bound():
        claim = cluster.admin().get("/api/v1/namespaces/aurora-system/persistentvolumeclaims/aurora-models")
        return claim["status"].get("phase") == "Bound" and claim["spec"]["volumeName"] == "aurora-models"

    wait_until(bound, 60, "the aurora-models claim to bind")


@pytest.mark.parametrize(
    "example", [ROOT / "examples" / f"{k}.yaml" for k in ("mltrainingjob", "mldeployment", "train-then-serve")]
)
def test_the_examples_are_accepted(cluster, aurora_installed, namespace, example):
    for document in documents(example):
        document = copy.deepcopy(document)
        document["metadata"]["namespace"] = namespace
        result = cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(document))
        assert "serverside-applied" in result.stdout


def test_a_platform_overlay_without_the_prometheus_operator_sets_its_cluster_settings(
    cluster, aurora_installed, namespace
):
    objects = built_from(cluster, ROOT / "examples" / "overlay")
    assert not [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    hooks = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "aurora-hooks")
    env = {e["name"]: e.get("value") for e in hooks["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AURORA_PROMETHEUS_URL"] == "http://prometheus-server.observability:9090"
    policy = next(o for o in objects if o["kind"] == "NetworkPolicy")
    allowed = [p["namespaceSelector"]["matchLabels"] for p in policy["spec"]["ingress"][0]["from"]]
    assert allowed == [{"kubernetes.io/metadata.name": n} for n in ("metacontroller-system", "observability")]
    moved_objects = [moved(obj, namespace) for obj in objects]
    result = cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(moved_objects),
    )
    assert result.stdout.count("(server dry run)") == len(objects)


def test_the_shared_cephfs_volume_recipe_binds_a_claim_per_namespace(cluster, namespace):
    objects = [
        yaml.safe_load(yaml.safe_dump(o).replace(": ml", f": {namespace}"))
        for o in documents(ROOT / "examples" / "models-volume-cephfs.yaml")
    ]
    volume, claim = objects
    assert volume["spec"]["claimRef"] == {"namespace": namespace, "name": "aurora-models"}
    assert claim["metadata"]["namespace"] == namespace and claim["spec"]["volumeName"] == volume["metadata"]["name"]
    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(objects))
    assert result.stdout.count("(server dry run)") == 2


def built_from(cluster, folder) -> list[dict]:
    return [d for d in yaml.safe_load_all(cluster.kubectl("kustomize", str(folder)).stdout) if d]
