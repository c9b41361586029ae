"""Deleted and at once re-created (what `kubectl replace --force` and GitOps tools do), on the real
Metacontroller: the new object behaves as new, whatever the old one's children are still doing.

The old children keep their names until the garbage collector removes them; a finalizer holds
them for a few seconds, so the new object's first creates always meet them (Metacontroller logs
"child object already exists" and moves on). Their removal is no event for the new object, so
only the hooks' resync brings it to create them.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.datasets import ROW
from tests.support.kube_cluster import Resource
from tests.support.manifests import dump, host, ml_deployment, training_job
from tests.support.platform import DEPLOYMENTS, TRAINING_JOBS, Platform
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster
HOLD = "aurora.dev/test-hold"
HELD_SECONDS = 4
JOBS = Resource("batch/v1", "jobs")
APPS = Resource("apps/v1", "deployments")
SERVICES = Resource("v1", "services")
INGRESSES = Resource("networking.k8s.io/v1", "ingresses")


def hold(kube, resource: Resource, namespace: str, name: str, held: bool) -> None:
    """Add or remove a finalizer of the test's own, which keeps an object after its deletion."""
    patch = {"metadata": {"finalizers": [HOLD] if held else None}}
    kube.call("PATCH", resource.path(namespace, name), patch, None, "application/merge-patch+json")


def recreate(platform: Platform, kind: str, manifest: str) -> None:
    """Delete the object (background, as kubectl does) and apply it again a second later."""
    platform.cluster.kubectl("delete", kind, "-n", platform.namespace, "--wait=false", "--all")
    time.sleep(1)
    platform.apply(manifest)


def release_later(platform: Platform, held: list[tuple[Resource, str]]) -> None:
    time.sleep(HELD_SECONDS)
    for resource, name in held:
        hold(platform.kube, resource, platform.namespace, name, held=False)


@pytest.fixture
def platform(cluster, aurora_installed, namespace, tmp_path):
    running = Platform(cluster, namespace, tmp_path)
    yield running
    assert running.stop() == []


def test_a_re_created_run_trains_a_new_version_and_the_deployment_following_it_rolls_it_out(platform):
    namespace = platform.namespace
    nightly = dump(training_job(namespace, "nightly"))
    platform.apply(nightly)
    platform.apply(dump(ml_deployment(namespace, trained_by="nightly", replicas=1)))

    def run_succeeded():
        status = platform.status(TRAINING_JOBS, "nightly")
        return status if status.get("phase") == "Succeeded" else None

    first = wait_until(run_succeeded, 90, "the first run to succeed")["modelVersion"]
    wait_until(lambda: platform.status(DEPLOYMENTS, "diabetes").get("stableVersion") == first, 60, "serving it")
    hold(platform.kube, JOBS, namespace, "nightly-train", held=True)
    recreate(platform, "mltrainingjob", nightly)
    release_later(platform, [(JOBS, "nightly-train")])

    def new_run_succeeded():
        status = run_succeeded()
        return status if status and status["modelVersion"] != first else None

    second = wait_until(new_run_succeeded, 90, "the re-created run to train and publish")["modelVersion"]
    assert platform.metacontroller.log_lines("child object already exists"), "the race was not met"

    def rolling_out_second():
        status = platform.status(DEPLOYMENTS, "diabetes")
        return status if status.get("desiredVersion") == second and status.get("canaryVersion") == second else None

    status = wait_until(rolling_out_second, 60, "the MLDeployment to roll out the new run's version")
    assert status["stableVersion"] == first


def test_a_re_created_mldeployment_serves_again_without_anyone_touching_it(platform, router):
    namespace = platform.namespace
    version, session = platform.publish(), requests.Session()
    manifest = dump(ml_deployment(namespace, version=version))
    platform.apply(manifest)

    def served() -> dict | None:
        status = platform.status(DEPLOYMENTS, "diabetes")
        available = {c["type"]: c["status"] for c in status.get("conditions") or []}.get("Available")
        return status if status.get("ready") == "2/2" and available == "True" else None

    def answers() -> bool:
        answer = router.send(session, host(namespace), {"instances": [ROW]})
        return answer.status_code == 200 and answer.headers.get("X-Model-Version") == version

    wait_until(served, 60, "the MLDeployment to serve")
    wait_until(answers, 30, "the router to answer with its version")
    held = [(APPS, "diabetes-stable"), (SERVICES, "diabetes-stable"), (INGRESSES, "diabetes-stable")]
    for resource, name in held:
        hold(platform.kube, resource, namespace, name, held=True)
    uid = platform.kube.get(DEPLOYMENTS.path(namespace, "diabetes"))["metadata"]["uid"]
    recreate(platform, "mldeployment", manifest)
    release_later(platform, held)

    wait_until(served, 90, "the re-created MLDeployment to serve again")
    wait_until(answers, 30, "the router to answer again")
    assert platform.kube.get(DEPLOYMENTS.path(namespace, "diabetes"))["metadata"]["uid"] != uid
    owner = platform.kube.get(APPS.path(namespace, "diabetes-stable"))["metadata"]["ownerReferences"][0]["uid"]
    assert owner != uid, "the stable Deployment must be the new MLDeployment's own"
    assert platform.metacontroller.log_lines("child object already exists"), "the race was not met"
