"""What Aurora's pods do on the real node (scripts/node) that kwok's fake ones never showed."""

from __future__ import annotations

import os

import pytest

from tests.support.kube_cluster import Resource
from tests.support.manifests import dump, training_job
from tests.support.platform import TRAINING_JOBS, Platform
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster
PODS = Resource("v1", "pods")


@pytest.fixture
def platform(cluster, aurora_installed, namespace, tmp_path):
    running = Platform(cluster, namespace, tmp_path)
    yield running
    assert running.stop() == []


def test_a_run_on_a_volume_its_user_cannot_write_fails_at_once_and_says_why(platform):
    # A hostPath folder as it comes: root's, 0755; the trainer runs as uid 10001.
    os.chown(platform.models, 0, 0)
    platform.apply(dump(training_job(platform.namespace, "nightly")))

    def failed():
        status = platform.status(TRAINING_JOBS, "nightly")
        return status if status.get("phase") == "Failed" else None

    status = wait_until(failed, 90, "the run to fail")
    condition = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert condition["reason"] == "StoreNotWritable"
    assert "not writable by uid 10001 gid 10001" in condition["message"]
    # Not retried: the Job's pod failure policy ends it on exit code 2.
    pods = platform.kube.list(PODS, platform.namespace, labelSelector="aurora.dev/training-job=nightly")
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
