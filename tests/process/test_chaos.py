"""Faults on real processes: killed workers, versions switched under reads, a full disk."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from tests.support.chaos import kill_workers_under_load, switch_latest_under_reads
from tests.support.datasets import ROW
from tests.support.models import MODEL, train
from tests.support.servers import Server
from tests.support.waiting import wait_until
from trainer import store


def test_killed_workers_lose_only_the_requests_they_were_answering(trained, tmp_path):
    server = Server(trained[0], tmp_path)
    try:
        result = kill_workers_under_load(server.url, server.process.pid, seconds=6, clients=4, kill_every=1.5)
        failed = result["total"] - result["ok"]
        print(f"\nkilled {result['kills']} workers under load: {result['outcomes']}")
        assert result["kills"] >= 3 and result["ok"] > 500
        # Each client has at most one request in flight: at most `clients` can die with a worker.
        assert failed <= result["kills"] * 4, result
        assert set(result["versions"]) <= {trained[2], None}
        # gunicorn replaced the workers: the server answers again.
        wait_until(
            lambda: requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5).ok, 10, "a new worker"
        )
    finally:
        server.stop()


def test_latest_switched_under_concurrent_reads_is_never_torn(tmp_path):
    result = switch_latest_under_reads(tmp_path, "m", publishes=40, readers=4)
    print(f"\n{result['publishes']} versions published and promoted under reads: {result['reads']}")
    assert set(result["reads"]) == {"consistent"} and result["reads"]["consistent"] > 100
    assert result["latest"] == result["last"]


def test_a_server_started_after_a_switch_serves_the_new_version_and_only_whole_ones(trained, tmp_path):
    root, model, first = trained
    code, summary = train(root, model, "--version", "v20990101-000000")
    assert code == 0
    (tmp_path / "after").mkdir()
    server = Server(root, tmp_path / "after")
    try:
        response = requests.post(f"{server.url}/predict", json={"instances": [ROW]}, timeout=5)
        assert response.json()["version"] == "v20990101-000000" != first
    finally:
        server.stop()


@pytest.fixture
def tiny_volume(tmp_path):
    """A 96 KiB tmpfs: a model store that fills up (needs root, as in CI)."""
    mount = tmp_path / "full"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs in CI: {result.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_volume_fails_the_run_cleanly_with_exit_2(tiny_volume):
    code, summary = train(tiny_volume, MODEL, "--params", '{"n_estimators": 60}', estimator="random_forest")
    assert code == 2 and summary["reason"] == "NoSpace" and "the model store is full" in summary["error"]
    model_store = store.ModelStore(tiny_volume)
    assert model_store.versions(MODEL) == [] and model_store.latest(MODEL) is None
    # Nothing half-written is left behind, not even hidden.
    assert not list((tiny_volume / MODEL).glob(".incoming-*"))
