"""The image as `scripts/image build` made it from images/Dockerfile: every package and console
script of setup.cfg inside, run as uid 10001.

The archive is read as containerd imports it (a docker-archive: manifest, config, layers).
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import tarfile
from functools import cache
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SITE_PACKAGES = "opt/aurora/lib/python3.11/site-packages"


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def packages() -> list[str]:
    return [p.strip() for p in setup_cfg()["options"]["packages"].split(",") if p.strip()]


def console_scripts() -> list[str]:
    lines = setup_cfg()["options.entry_points"]["console_scripts"].strip().splitlines()
    return [line.split("=")[0].strip() for line in lines]


def missing_from_image(files: set[str]) -> list[str]:
    """The packages and console scripts of setup.cfg that the image's files lack."""
    missing = [p for p in packages() if f"{SITE_PACKAGES}/{p.replace('.', '/')}/__init__.py" not in files]
    return missing + [s for s in console_scripts() if f"opt/aurora/bin/{s}" not in files]


@cache
def archive() -> Path:
    folder = Path(subprocess.run([ROOT / "scripts" / "image", "path"], capture_output=True, text=True).stdout.strip())
    path = folder / "aurora.tar"
    if not path.is_file():
        message = f"no image at {path}: `make test` builds it (scripts/image build)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    return path


@cache
def layers() -> tuple[dict, dict[str, int]]:
    """The image's config, and the mode of every path of its layers (the last layer's wins)."""
    with tarfile.open(archive()) as outer:
        (manifest,) = json.load(outer.extractfile("manifest.json"))
        config = json.load(outer.extractfile(manifest["Config"]))
        modes = {}
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r:*") as inner:
                modes.update({member.name.removeprefix("./").rstrip("/") or ".": member.mode for member in inner})
    return config, modes


def image() -> tuple[dict, frozenset[str]]:
    """The image's config and the files of all its layers."""
    config, modes = layers()
    return config, frozenset(modes)


def test_every_package_and_console_script_of_setup_cfg_is_in_the_image():
    _, files = image()
    assert missing_from_image(set(files)) == []


def test_a_package_left_out_of_the_image_is_found_missing():
    _, files = image()
    without = {f for f in files if not f.startswith(f"{SITE_PACKAGES}/kubectl_aurora/")}
    assert missing_from_image(without) == ["kubectl_aurora"]


def test_the_image_runs_as_uid_10001_with_the_venv_first_on_its_path():
    config, files = image()
    assert config["config"]["User"] == "10001:10001"
    assert any(e.startswith("PATH=/opt/aurora/bin:") for e in config["config"]["Env"])
    assert "etc/passwd" in files


def test_uid_10001_can_reach_the_venv_and_the_system_libraries():
    """Every folder on the way is readable and searchable by anyone (the image runs as 10001)."""
    _, modes = layers()
    # A layer carries / only when its mode differs from the runtime's 0755.
    modes = {".": 0o755, **modes}
    for path in (".", "usr", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/bin", "opt", "opt/aurora", "opt/aurora/bin"):
        assert modes[path] & 0o005 == 0o005, f"/{path} is {oct(modes[path])}"
