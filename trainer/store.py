"""The model store: the on-disk layout of versioned models on the shared volume.

    <root>/<model>/versions/<version>/{model.joblib, metadata.json, SHA256SUMS}
    <root>/<model>/latest -> versions/<version>

A version folder appears whole or not at all: it is written under a hidden
folder inside the model's folder (same filesystem), fsynced, then renamed into
place. Versions are immutable. `latest` is a relative symlink replaced by an
atomic rename, so it never points at a missing or half-written version.
The trainer is the only writer; the server and the control API only read.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aurora_api.names import VERSION_FORMAT, is_valid_model_name, is_valid_version, version_at

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
CHECKSUM_FILE = "SHA256SUMS"
LATEST = "latest"
INCOMING_PREFIX = ".incoming-"
# A hidden folder older than this was left by a killed publisher.
STALE_INCOMING_SECONDS = 24 * 3600
# How many later seconds an automatically chosen version may move to on collision.
MAX_VERSION_BUMPS = 120


class StoreError(Exception):
    """Base of every model store error."""


class InvalidName(StoreError):
    """A model name or version that does not follow the layout's rules."""


class VersionExists(StoreError):
    """Publishing a version that is already published: versions are immutable."""


class VersionNotFound(StoreError):
    """A model or version that is not in the store."""


class CorruptVersion(StoreError):
    """A version folder whose files do not match its SHA256SUMS."""


class NotWritable(StoreError):
    """The store's folder refuses this process's writes (its owner or mode, or a read-only mount)."""


def check_model_name(name: str) -> None:
    if not is_valid_model_name(name):
        raise InvalidName(
            f"model name {name!r} is not a DNS-1123 label "
            "(lower-case letters, digits and '-', at most 63, starting and ending alphanumeric)"
        )


def check_version(version: str) -> None:
    if not is_valid_version(version):
        raise InvalidName(f"version {version!r} is not of the form vYYYYMMDD-HHMMSS (UTC)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_checksums(text: str) -> dict[str, str]:
    """Read a `sha256sum` style file: '<hex>  <name>' per line."""
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            raise CorruptVersion(f"{CHECKSUM_FILE} line {number} is malformed: {line!r}")
        sums[name] = digest
    return sums


def write_checksums(folder: Path) -> None:
    """Write SHA256SUMS covering every other file of the folder."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != CHECKSUM_FILE)
    lines = [f"{sha256_file(folder / name)}  {name}\n" for name in names]
    (folder / CHECKSUM_FILE).write_text("".join(lines))


class ModelStore:
    """Paths, atomic publication, verification and reading of model versions."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # Paths

    def model_dir(self, model: str) -> Path:
        check_model_name(model)
        return self.root / model

    def version_dir(self, model: str, version: str) -> Path:
        check_version(version)
        return self.model_dir(model) / "versions" / version

    def latest_link(self, model: str) -> Path:
        return self.model_dir(model) / LATEST

    def check_writable(self, model: str) -> None:
        """Raise NotWritable, saying who and where, unless a version of `model` could be published."""
        folder = self.model_dir(model) / "versions"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                pass
        except OSError as err:
            if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise NotWritable(
                f"the model store {self.root} is not writable by uid {os.getuid()} gid {os.getgid()} "
                f"({err.strerror}: {err.filename}); make the volume writable by them (fsGroup does it "
                "only for volume types that manage ownership; a hostPath or NFS folder must be chowned)"
            ) from None

    # Reading

    def models(self) -> list[str]:
        """Names of the models that have at least one published version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if is_valid_model_name(p.name) and self.versions(p.name))

    def versions(self, model: str) -> list[str]:
        """Published versions of a model, oldest first."""
        folder = self.model_dir(model) / "versions"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if is_valid_version(p.name) and p.is_dir())

    def latest(self, model: str) -> str | None:
        """The version `latest` points at, or None when nothing was promoted."""
        try:
            target = os.readlink(self.latest_link(model))
        except (FileNotFoundError, OSError):
            return None
        version = Path(target).name
        return version if is_valid_version(version) else None

    def resolve(self, model: str, version: str) -> str:
        """Turn 'latest' or an explicit version into a published version name."""
        if version == LATEST:
            resolved = self.latest(model)
            if resolved is None:
                raise VersionNotFound(f"model {model!r} has no promoted version ('latest' is not set)")
            version = resolved
        if not self.version_dir(model, version).is_dir():
            raise VersionNotFound(f"model {model!r} has no version {version!r} under {self.root}")
        return version

    def read_metadata(self, model: str, version: str) -> dict:
        path = self.version_dir(model, version) / METADATA_FILE
        try:
            return json.loads(path.read_text())
        except FileNotFoundError as err:
            raise VersionNotFound(f"{path} is missing") from err
        except json.JSONDecodeError as err:
            raise CorruptVersion(f"{path} is not valid JSON: {err}") from err

    def verify(self, model: str, version: str) -> None:
        """Check every file of a version against SHA256SUMS; raise CorruptVersion if any differs."""
        folder = self.version_dir(model, version)
        try:
            sums = parse_checksums((folder / CHECKSUM_FILE).read_text())
        except FileNotFoundError as err:
            raise CorruptVersion(f"{folder} has no {CHECKSUM_FILE}") from err
        present = {p.name for p in folder.iterdir() if p.name != CHECKSUM_FILE}
        if present != set(sums):
            extra, missing = sorted(present - set(sums)), sorted(set(sums) - present)
            raise CorruptVersion(f"{folder}: files not listed {extra}, listed but missing {missing}")
        for name, expected in sums.items():
            if sha256_file(folder / name) != expected:
                raise CorruptVersion(f"{folder / name} does not match its SHA256SUMS entry")

    # Writing

    def publish(
        self,
        model: str,
        metadata: dict,
        write_artifacts: Callable[[Path], None],
        *,
        version: str | None = None,
        now: datetime | None = None,
        promote: bool = False,
    ) -> str:
        """Publish a new version atomically and return its name.

        `write_artifacts(folder)` writes the model files into a private folder.
        With an explicit `version` that is already published, VersionExists is
        raised and nothing changes. Without one, the version comes from `now`;
        if another publisher took that second, the next free second is used.
        """
        model_dir = self.model_dir(model)
        (model_dir / "versions").mkdir(parents=True, exist_ok=True)
        self._remove_stale_incoming(model_dir)
        if version is not None:
            check_version(version)
            if self.version_dir(model, version).exists():
                raise VersionExists(f"model {model!r} already has version {version!r}; versions are immutable")
        incoming = model_dir / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
        incoming.mkdir()
        try:
            write_artifacts(incoming)
            published = self._move_into_place(model, incoming, metadata, version, now)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        if promote:
            self.promote(model, published)
        return published

    def promote(self, model: str, version: str) -> None:
        """Point `latest` at a published version with one atomic rename."""
        if not self.version_dir(model, version).is_dir():
            raise VersionNotFound(f"cannot promote {model}/{version}: it is not published")
        link = self.latest_link(model)
        temporary = link.with_name(f"{INCOMING_PREFIX}latest-{uuid.uuid4().hex}")
        os.symlink(os.path.join("versions", version), temporary)
        os.replace(temporary, link)
        fsync_path(link.parent)

    def _move_into_place(
        self, model: str, incoming: Path, metadata: dict, version: str | None, now: datetime | None
    ) -> str:
        """Seal the incoming folder under a version name and rename it into versions/."""
        explicit = version is not None
        candidate = version or version_at(now or datetime.now(UTC))
        for _ in range(MAX_VERSION_BUMPS):
            self._seal(incoming, {**metadata, "model": model, "version": candidate})
            target = self.version_dir(model, candidate)
            try:
                # rename(2) onto a non-empty folder fails, so two publishers never merge.
                os.rename(incoming, target)
            except OSError as err:
                if not target.exists():
                    raise
                if explicit:
                    raise VersionExists(
                        f"model {model!r} already has version {candidate!r}; versions are immutable"
                    ) from err
                candidate = _next_second(candidate)
                continue
            fsync_path(target.parent)
            return candidate
        raise StoreError(f"no free version for {model!r} within {MAX_VERSION_BUMPS} seconds")

    @staticmethod
    def _seal(folder: Path, metadata: dict) -> None:
        """Write metadata.json and SHA256SUMS, then flush every file and the folder."""
        (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        write_checksums(folder)
        for path in folder.iterdir():
            fsync_path(path)
        fsync_path(folder)

    @staticmethod
    def _remove_stale_incoming(model_dir: Path) -> None:
        """Remove folders that killed publishers left behind long ago."""
        cutoff = time.time() - STALE_INCOMING_SECONDS
        for path in model_dir.glob(f"{INCOMING_PREFIX}*"):
            try:
                if path.lstat().st_mtime < cutoff:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except FileNotFoundError:
                pass


def _next_second(version: str) -> str:
    moment = datetime.strptime(version, VERSION_FORMAT) + timedelta(seconds=1)
    return moment.strftime(VERSION_FORMAT)
