"""The model store against other processes: coreutils' sha256sum reading its checksums, a
publisher SIGKILLed mid-write, and four publishers forked at the same moment."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys

from tests.support.publishing import NOW, publish, write_model
from trainer import store


def test_checksums_cover_every_other_file_in_sha256sum_format(tmp_path):
    version = publish(tmp_path)
    folder = tmp_path / "m" / "versions" / version
    listed = store.parse_checksums((folder / "SHA256SUMS").read_text())
    assert set(listed) == {"metadata.json", "model.joblib"}
    # The coreutils tool accepts the file as it is.
    subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=folder, check=True)


KILLED_PUBLISHER = """
import sys, time
from pathlib import Path
from trainer import store

def write(folder):
    (folder / "model.joblib").write_bytes(b"half written")
    print("writing", flush=True)
    time.sleep(60)

store.ModelStore(sys.argv[1]).publish("m", {}, write, version="v20261126-120000", promote=True)
"""


def test_a_publisher_killed_mid_write_leaves_no_partial_version(tmp_path):
    publish(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISHER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
    model_store = store.ModelStore(tmp_path)
    assert model_store.versions("m") == ["v20261126-101500"]
    assert model_store.latest("m") == "v20261126-101500"
    # What the killed process left is hidden and is not a version.
    assert len(list((tmp_path / "m").glob(".incoming-*"))) == 1


def concurrent_publisher(root: str, barrier, results) -> None:
    barrier.wait()
    version = store.ModelStore(root).publish("m", {}, write_model(), now=NOW, promote=True)
    results.put(version)


def test_concurrent_publishers_at_the_same_moment_get_distinct_versions(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=concurrent_publisher, args=(str(tmp_path), barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    versions = sorted(results.get(timeout=5) for _ in workers)
    assert len(set(versions)) == 4
    model_store = store.ModelStore(tmp_path)
    assert model_store.versions("m") == versions
    assert model_store.latest("m") in versions
    for version in versions:
        model_store.verify("m", version)
