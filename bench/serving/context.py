"""What a run knows: its settings and folders, and what setup found out (venvs, failures, models)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from serving.processes import ProcessGroups
from serving.settings import Settings


@dataclass
class RunContext:
    settings: Settings
    bench_dir: Path
    repo: Path  # the project holding bench/
    stamp: str
    groups: ProcessGroups = field(default_factory=ProcessGroups)
    venv: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # server -> why it cannot run at all
    version_info: dict[str, str] = field(default_factory=dict)
    peer_retrain: set[str] = field(default_factory=set)  # peers serving their own copy of the models
    notes: list[str] = field(default_factory=list)
    sklearn: str = ""  # the version every peer installs: Aurora's
    model_sklearn: str = ""  # the version the reference models were trained with
    aurora_python: Path | None = None
    tool_python: Path | None = None  # a python with scikit-learn, for bodies and references
    model_file: dict[tuple[str, str], Path] = field(default_factory=dict)  # (server, model) -> model.joblib
    ghz: str = ""
    seen_workers: str = ""

    @property
    def run_dir(self) -> Path:
        return self.settings.cache / "runs" / self.stamp

    @property
    def model_root(self) -> Path:
        return self.run_dir / "models"

    @property
    def code_root(self) -> Path:
        """The Aurora tree that is trained and served: BENCH_AURORA_REPO, else this project."""
        return self.settings.aurora_repo or self.repo

    def is_usable(self, server: str) -> bool:
        return server in self.venv and server not in self.failed

    def aurora_env(self, **extra: str) -> dict[str, str]:
        """The environment of Aurora's tools: BENCH_AURORA_REPO's code first on the path."""
        env = {**os.environ, **extra}
        if self.settings.aurora_repo:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.settings.aurora_repo), env.get("PYTHONPATH")]))
        return env

    def job(self, python: Path | str, module: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run `python -m serving.<module> ARGS` under another venv's python, with the code root importable.

        It runs in the run folder: `-m` puts the working directory first on the path, where a
        checkout's own server/ would shadow the code root's.
        """
        path = os.pathsep.join([str(self.bench_dir), str(self.code_root)])
        env = {**os.environ, "PYTHONPATH": path}
        command = [str(python), "-m", f"serving.{module}", *args]
        return subprocess.run(command, env=env, cwd=self.run_dir, **kwargs)
