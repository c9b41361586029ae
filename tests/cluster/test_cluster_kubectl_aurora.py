"""`kubectl aurora` against the real API server: found by kubectl as a plugin, on real objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.examples import create
from tests.support.hook_fixtures import recorded
from tests.support.platform import DEPLOYMENTS

pytestmark = pytest.mark.cluster
PLUGIN_DIR = Path(sys.executable).parent


def kubectl_aurora(cluster, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`kubectl aurora ...` as a user runs it: kubectl finds kubectl-aurora on the PATH."""
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{cluster.bin}:{PLUGIN_DIR}:{os.environ['PATH']}",
    }
    command = [str(cluster.bin / "kubectl"), "aurora", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def with_status(cluster, namespace: str, case: str) -> dict:
    return create(cluster, "mldeployment", namespace, "housing", status=recorded(case)["status"])


def test_get_draws_the_tree_of_the_live_object_and_o_json_gives_the_object(cluster, aurora_installed, namespace):
    with_status(cluster, namespace, "mld-healthy")
    tree = kubectl_aurora(cluster, "get", "mld", "housing", "-n", namespace)
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.startswith(f"MLDeployment {namespace}/housing  Progressing")
    assert "error rate 0.002 (max 0.01)" in tree.stdout and "\033[" not in tree.stdout
    as_json = json.loads(kubectl_aurora(cluster, "get", "mld", "housing", "-n", namespace, "-o", "json").stdout)
    assert as_json["status"]["canaryWeight"] == 10


def test_list_shows_every_rollout_and_run_of_the_namespace(cluster, aurora_installed, namespace):
    with_status(cluster, namespace, "mld-rolled-back")
    create(cluster, "mltrainingjob", namespace, "housing-rf", status={"phase": "Succeeded", "gatePassed": True})
    listing = kubectl_aurora(cluster, "list", "-n", namespace)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "MLDEPLOYMENT", "PHASE", "READY", "DESIRED", "STABLE", "CANARY", "WEIGHT"]
    assert lines[1].split()[:3] == [namespace, "housing", "RolledBack"]
    assert any(line.split()[:3] == [namespace, "housing-rf", "Succeeded"] for line in lines)


def test_actions_set_their_annotation_or_refuse_with_the_reason(cluster, aurora_installed, namespace):
    with_status(cluster, namespace, "mld-healthy")
    promoted = kubectl_aurora(cluster, "promote", "housing", "-n", namespace)
    live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
    assert promoted.returncode == 0 and live["metadata"]["annotations"]["aurora.dev/promote"] in promoted.stdout
    refused = kubectl_aurora(cluster, "rollback", "housing", "-n", namespace)
    assert refused.returncode == 1 and "no rollback window is open" in refused.stderr
    missing = kubectl_aurora(cluster, "abort", "nope", "-n", namespace)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_wait_returns_when_the_rollout_is_promoted_and_times_out_otherwise(cluster, aurora_installed, namespace):
    created = with_status(cluster, namespace, "mld-healthy")
    timed_out = kubectl_aurora(cluster, "wait", "mld/housing", "-n", namespace, "--for=promoted", "--timeout=2s")
    assert timed_out.returncode == 1 and "timed out" in timed_out.stderr

    def promote_later():
        time.sleep(1.5)
        live = cluster.admin().get(DEPLOYMENTS.path(namespace, "housing"))
        live["status"] = recorded("mld-promoted-in-window")["status"]
        cluster.admin().call("PUT", DEPLOYMENTS.path(namespace, "housing") + "/status", live)

    writer = threading.Thread(target=promote_later)
    began = time.monotonic()
    writer.start()
    waited = kubectl_aurora(cluster, "wait", "mld/housing", "-n", namespace, "--for=promoted", "--timeout=30s")
    writer.join()
    assert waited.returncode == 0, waited.stderr
    assert "reached promoted" in waited.stdout and time.monotonic() - began < 15
    other_way = kubectl_aurora(cluster, "wait", "mld/housing", "-n", namespace, "--for=rolledback", "--timeout=5s")
    assert other_way.returncode == 3 and "promoted instead" in other_way.stdout
    assert created["metadata"]["name"] == "housing"
