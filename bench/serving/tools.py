"""The load tools: wrk (installed with apt-get when missing) and ghz (the machine's, or built
once with `go install` into the cache)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from serving.logs import BenchError, log

GHZ_MODULE = "github.com/bojand/ghz/cmd/ghz"


def apt_get(args: list[str], logfile: Path, mode: str) -> bool:
    sudo = ["sudo"] if os.getuid() != 0 else []
    command = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", *args]
    with open(logfile, mode) as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode == 0


def ensure_wrk(run_dir: Path) -> None:
    """Install wrk from the Debian package when it is not on the PATH."""
    if shutil.which("wrk"):
        return
    log("wrk is missing; installing the Debian package")
    logfile = run_dir / "apt.log"
    install = ["install", "-y", "-q", "wrk"]
    if apt_get(install, logfile, "w"):
        return
    if apt_get(["update", "-q"], logfile, "a") and apt_get(install, logfile, "a"):
        return
    raise BenchError(f"could not install wrk (see {logfile})")


def find_ghz(cache: Path, run_dir: Path, version: str) -> str:
    """ghz on the PATH, else the one built before, else built now; "" when there is none."""
    if found := shutil.which("ghz"):
        return found
    built = cache / "bin" / f"ghz-{version}"
    if os.access(built, os.X_OK):
        return str(built)
    if not shutil.which("go"):
        return ""
    log(f"ghz is missing; go install {GHZ_MODULE}@{version} (once, into {cache / 'bin'})")
    env = {**os.environ, "GOBIN": str(run_dir / "gobin")}
    with open(run_dir / "ghz-install.log", "w") as out:
        command = ["go", "install", f"{GHZ_MODULE}@{version}"]
        done = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        return ""
    built.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(run_dir / "gobin" / "ghz", built)
    return str(built)
