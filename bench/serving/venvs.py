"""Venvs: Aurora's (the project's .venv, or one in the cache) and the peers' in the cache.

Pickles are bound to the scikit-learn version, so each peer venv gets Aurora's version
when its pins allow it. A venv in the cache is reused while its `.bench-ready` marker
matches what it was built for.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from serving.logs import log

PACKAGING_FILES = ("setup.cfg", "pyproject.toml", "setup.py")
VERSIONS_SCRIPT = """
import sys
from importlib import metadata
out = []
for dist in sys.argv[1:]:
    try:
        out.append(f"{dist} {metadata.version(dist)}")
    except metadata.PackageNotFoundError:
        out.append(f"{dist} ?")
print(", ".join(out))
"""


def output_of(command: list[str], env: dict | None = None) -> str:
    """The command's stdout, stripped; "" when it fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.strip()


def python_version(python: str) -> str:
    return output_of([python, "-c", "import sys; print(sys.version.split()[0])"])


def sklearn_of(python: str | Path) -> str:
    return output_of([str(python), "-c", "import sklearn; print(sklearn.__version__)"])


def versions_of(python: str | Path, *dists: str) -> str:
    """The "dist version" pairs of the distributions installed for `python`."""
    return output_of([str(python), "-c", VERSIONS_SCRIPT, *dists])


def logged(command: list[str], logfile: Path, mode: str = "a") -> bool:
    """Run a command with its output appended to `logfile`; True when it succeeded."""
    with open(logfile, mode) as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode == 0


def is_reusable(directory: Path, marker: str, tool: str = "python") -> bool:
    ready = directory / ".bench-ready"
    return (directory / "bin" / tool).exists() and ready.is_file() and ready.read_text().strip() == marker


def ensure_peer_venv(cache: Path, name: str, specs: list[str], python: str, sklearn: str) -> Path | None:
    """A venv under the cache with `specs` and, when `sklearn` is known, exactly that scikit-learn."""
    directory = cache / "venvs" / name
    marker = f"{' '.join(specs)} | {python_version(python)}"
    logfile = cache / "venvs" / f"{name}.install.log"
    pip = str(directory / "bin" / "pip")
    if is_reusable(directory, marker):
        if not sklearn or sklearn_of(directory / "bin" / "python") == sklearn:
            log(f"{name}: reusing {directory}")
            return directory
    else:
        log(f"{name}: creating {directory} (pip output in {logfile})")
        shutil.rmtree(directory, ignore_errors=True)
        if not logged([python, "-m", "venv", str(directory)], logfile, "w"):
            return None
        logged([pip, "install", "-q", "--upgrade", "pip"], logfile)
    if sklearn:
        if logged([pip, "install", *specs, f"scikit-learn=={sklearn}", "joblib"], logfile):
            (directory / ".bench-ready").write_text(marker + "\n")
            return directory
        log(f"{name}: its pins reject scikit-learn=={sklearn}; installing its own choice")
    if not logged([pip, "install", *specs, "scikit-learn", "joblib"], logfile):
        return None
    (directory / ".bench-ready").write_text(marker + "\n")
    return directory


def project_marker(repo: Path) -> str:
    """A hash of the project's packaging files: the cache venv is rebuilt when they change."""
    files = [repo / name for name in PACKAGING_FILES]
    text = b"".join(path.read_bytes() for path in files if path.is_file())
    return hashlib.sha256(text).hexdigest()


def aurora_venv(repo: Path, cache: Path, python: str) -> tuple[Path | None, str]:
    """Aurora's venv: the project's when it has the console scripts, else one of our own.

    Returns the venv and, when there is none, why.
    """
    project = repo / ".venv"
    if (project / "bin" / "aurora-serve").exists() and (project / "bin" / "aurora-train").exists():
        log(f"aurora: using the project's venv {project}")
        return project, ""
    if not any((repo / name).is_file() for name in PACKAGING_FILES):
        return None, f"no installable project at {repo}"
    directory = cache / "venvs" / "aurora"
    marker = project_marker(repo)
    logfile = Path(f"{directory}.install.log")
    if is_reusable(directory, marker, "aurora-serve"):
        log(f"aurora: reusing {directory}")
        return directory, ""
    log(f"aurora: no {project} with aurora-serve; installing the repo into {directory}")
    shutil.rmtree(directory, ignore_errors=True)
    if logged([python, "-m", "venv", str(directory)], logfile, "w") and logged(
        [str(directory / "bin" / "pip"), "install", "-e", str(repo)], logfile
    ):
        (directory / ".bench-ready").write_text(marker + "\n")
        return directory, ""
    return directory, f"pip install -e {repo} failed (see {logfile})"
