"""The model store: layout, checksums, immutability, atomic publish and concurrent publishers."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trainer import store

NOW = datetime(2026, 11, 26, 10, 15, 0, tzinfo=UTC)


def write_model(payload: bytes = b"model-bytes"):
    def write(folder: Path) -> None:
        (folder / store.MODEL_FILE).write_bytes(payload)

    return write


def publish(root, model="m", *, version=None, now=NOW, promote=True, payload=b"model-bytes") -> str:
    return store.ModelStore(root).publish(
        model, {"note": "test"}, write_model(payload), version=version, now=now, promote=promote
    )


def test_publish_writes_the_version_folder_with_metadata_and_checksums(tmp_path):
    version = publish(tmp_path)
    folder = tmp_path / "m" / "versions" / version
    assert version == "v20261126-101500"
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "metadata.json", "model.joblib"]
    metadata = store.ModelStore(tmp_path).read_metadata("m", version)
    assert metadata["model"] == "m" and metadata["version"] == version and metadata["note"] == "test"


def test_checksums_cover_every_other_file_in_sha256sum_format(tmp_path):
    version = publish(tmp_path)
    folder = tmp_path / "m" / "versions" / version
    listed = store.parse_checksums((folder / "SHA256SUMS").read_text())
    assert set(listed) == {"metadata.json", "model.joblib"}
    # The coreutils tool accepts the file as it is.
    subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=folder, check=True)


def test_latest_is_a_relative_symlink_to_the_promoted_version(tmp_path):
    version = publish(tmp_path)
    link = tmp_path / "m" / "latest"
    assert link.is_symlink() and os.readlink(link) == f"versions/{version}"
    assert store.ModelStore(tmp_path).resolve("m", "latest") == version


def test_publish_without_promotion_leaves_latest_where_it_was(tmp_path):
    first = publish(tmp_path)
    second = publish(tmp_path, version="v20261126-120000", promote=False)
    model_store = store.ModelStore(tmp_path)
    assert model_store.latest("m") == first
    assert model_store.versions("m") == [first, second]


def test_republishing_an_explicit_version_is_refused_and_changes_nothing(tmp_path):
    version = publish(tmp_path, payload=b"original")
    with pytest.raises(store.VersionExists, match="immutable"):
        publish(tmp_path, version=version, payload=b"replacement")
    assert (tmp_path / "m" / "versions" / version / "model.joblib").read_bytes() == b"original"
    store.ModelStore(tmp_path).verify("m", version)


def test_an_automatic_version_that_is_taken_moves_to_the_next_free_second(tmp_path):
    first = publish(tmp_path)
    second = publish(tmp_path)
    assert (first, second) == ("v20261126-101500", "v20261126-101501")
    assert store.ModelStore(tmp_path).read_metadata("m", second)["version"] == second


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "model.joblib").write_bytes(b"tampered"), "does not match"),
        (lambda f: (f / "extra.bin").write_bytes(b"x"), "not listed"),
        (lambda f: (f / "metadata.json").unlink(), "missing"),
        (lambda f: (f / "SHA256SUMS").unlink(), "no SHA256SUMS"),
        (lambda f: (f / "SHA256SUMS").write_text("not a checksum line\n"), "malformed"),
    ],
    ids=["modified-file", "extra-file", "missing-file", "no-checksums", "malformed-checksums"],
)
def test_verify_rejects_a_damaged_version(tmp_path, damage, message):
    version = publish(tmp_path)
    damage(tmp_path / "m" / "versions" / version)
    with pytest.raises(store.CorruptVersion, match=message):
        store.ModelStore(tmp_path).verify("m", version)


def test_a_failing_writer_leaves_no_version_and_no_leftovers(tmp_path):
    publish(tmp_path)

    def broken(folder: Path) -> None:
        (folder / "model.joblib").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.ModelStore(tmp_path).publish("m", {}, broken, version="v20261126-120000", promote=True)
    assert store.ModelStore(tmp_path).versions("m") == ["v20261126-101500"]
    assert store.ModelStore(tmp_path).latest("m") == "v20261126-101500"
    assert not list((tmp_path / "m").glob(".incoming-*"))


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


def test_leftovers_of_killed_publishers_are_removed_once_stale(tmp_path):
    stale = tmp_path / "m" / ".incoming-old"
    stale.mkdir(parents=True)
    old = time.time() - store.STALE_INCOMING_SECONDS - 60
    os.utime(stale, (old, old))
    fresh = tmp_path / "m" / ".incoming-fresh"
    fresh.mkdir()
    publish(tmp_path)
    assert not stale.exists() and fresh.exists()


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


def test_latest_never_dangles_while_versions_are_promoted(tmp_path):
    model_store = store.ModelStore(tmp_path)
    versions = [publish(tmp_path, version=f"v20261126-1200{i:02d}", promote=False) for i in range(20)]
    model_store.promote("m", versions[0])
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            target = tmp_path / "m" / "latest" / "model.joblib"
            seen.append(target.exists())

    thread = threading.Thread(target=reader)
    thread.start()
    for _ in range(10):
        for version in versions:
            model_store.promote("m", version)
    stop.set()
    thread.join()
    assert seen and all(seen)


@pytest.mark.parametrize("name", ["Upper", "-dash", "under_score", "a" * 64, "", "a/b"])
def test_model_names_must_be_dns_labels(tmp_path, name):
    with pytest.raises(store.InvalidName, match="DNS-1123"):
        publish(tmp_path, model=name)


@pytest.mark.parametrize("version", ["20261126-101500", "v2026-11-26", "v20261399-101500", "latest"])
def test_versions_must_be_utc_timestamps(tmp_path, version):
    with pytest.raises(store.InvalidName, match="vYYYYMMDD-HHMMSS"):
        publish(tmp_path, version=version)


def test_resolving_latest_without_a_promoted_version_says_so(tmp_path):
    publish(tmp_path, promote=False)
    with pytest.raises(store.VersionNotFound, match="no promoted version"):
        store.ModelStore(tmp_path).resolve("m", "latest")


def test_models_lists_only_models_with_versions(tmp_path):
    publish(tmp_path, model="a")
    (tmp_path / "empty").mkdir()
    assert store.ModelStore(tmp_path).models() == ["a"]
