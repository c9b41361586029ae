"""The model store: layout, checksums, immutability, atomic publish and concurrent readers.
(Other processes against it: tests/process/test_store_processes.py.)"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.support.publishing import publish
from trainer import store


def test_publish_writes_the_version_folder_with_metadata_and_checksums(tmp_path):
    version = publish(tmp_path)
    folder = tmp_path / "m" / "versions" / version
    assert version == "v20261126-101500"
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "metadata.json", "model.joblib"]
    metadata = store.ModelStore(tmp_path).read_metadata("m", version)
    assert metadata["model"] == "m" and metadata["version"] == version and metadata["note"] == "test"


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


def test_leftovers_of_killed_publishers_are_removed_once_stale(tmp_path):
    stale = tmp_path / "m" / ".incoming-old"
    stale.mkdir(parents=True)
    old = time.time() - store.STALE_INCOMING_SECONDS - 60
    os.utime(stale, (old, old))
    fresh = tmp_path / "m" / ".incoming-fresh"
    fresh.mkdir()
    publish(tmp_path)
    assert not stale.exists() and fresh.exists()


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
