"""Fixtures of every tier: tiny models trained into tmp_path (no model binary is committed), and the
real control plane with a namespace per test for the cluster tier."""

from __future__ import annotations

import os

import pytest

from tests.support.models import MODEL, train


@pytest.fixture
def model_root(tmp_path):
    return tmp_path / "models"


@pytest.fixture
def trained(model_root):
    """A promoted ridge model on builtin:diabetes: (root, model, version)."""
    code, summary = train(model_root)
    assert code == 0, summary
    return model_root, MODEL, summary["version"]


@pytest.fixture(scope="session")
def cluster():
    """The real control plane (scripts/cluster): the running one, or one started for this session."""
    from tests.support import kube_cluster

    missing = kube_cluster.missing_programs()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the cluster tier needs {', '.join(missing)}, which CI must install")
        pytest.skip(f"the cluster tier needs {', '.join(missing)}")
    if not kube_cluster.pod_addresses_are_local():
        why = "the cluster tier runs in the tests' network namespace: `make test`, or `scripts/netns exec pytest`"
        pytest.fail(why) if os.environ.get("CI") == "true" else pytest.skip(why)
    running = kube_cluster.start(kube_cluster.cluster_home())
    yield running
    kube_cluster.stop(running)


@pytest.fixture(scope="session")
def router(cluster, tmp_path_factory):
    """Traefik, routing users' requests by the Ingresses and HTTPRoutes of the cluster."""
    from tests.support.traefik import Traefik

    running = Traefik(cluster, tmp_path_factory.mktemp("traefik"))
    yield running
    running.stop()


@pytest.fixture
def namespace(cluster):
    """A namespace of the test's own on the real cluster, deleted afterwards."""
    name = cluster.new_namespace("t")
    yield name
    cluster.delete_namespace(name)


@pytest.fixture(scope="session")
def aurora_installed(cluster):
    """The `kind` overlay applied to the real cluster with server-side apply; kubectl's output."""
    # As an upgrade does: fields an earlier `aurora-control-api bootstrap` applied are taken over.
    result = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", "manifests/overlays/kind")
    cluster.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    return result.stdout
