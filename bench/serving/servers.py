"""The servers under test: how each one is launched on free 127.0.0.1 ports, and what the
report says about its setup.

aurora and aurora-no-histogram run aurora-serve (the latter on the models without
predictionBuckets); mlserver runs `mlserver start` on a generated repository; kserve and
kserve-logging run bench/kserve_sklearn.py, the first without a log line per request.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from serving.context import RunContext
from serving.sockets import free_ports

WITHOUT_BUCKETS = "without predictionBuckets (no prediction histogram)"


@dataclass(frozen=True)
class Launched:
    """A started server: its process group and where it answers."""

    pgid: int
    base_url: str
    grpc_address: str


def aurora_command(ctx: RunContext, server: str, model: str, ports: list[int]) -> tuple[list[str], dict]:
    root = ctx.run_dir / "models-no-histogram" if server == "aurora-no-histogram" else ctx.model_root
    command = [str(ctx.venv["aurora"] / "bin" / "aurora-serve"), "--bind", f"127.0.0.1:{ports[0]}"]
    command += ["--grpc-bind", f"127.0.0.1:{ports[1]}"]
    if ctx.settings.aurora_workers:
        command += ["--workers", ctx.settings.aurora_workers]
    env = ctx.aurora_env(
        AURORA_MODEL_ROOT=str(root), AURORA_MODEL=model, AURORA_MODEL_VERSION="latest", AURORA_TRACK="stable"
    )
    return command, env


def write_mlserver_config(root: Path, name: str, uri: Path, ports: list[int]) -> None:
    """Write an MLServer repository: settings.json plus one model-settings.json."""
    model_dir = root / name
    model_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": ports[0],
        "grpc_port": ports[1],
        "metrics_port": ports[2],
        "parallel_workers": 0,
        "debug": False,
        "model_repository_root": str(root),
        "load_models_at_startup": True,
        "metrics_dir": str(root / ".metrics"),
        "environments_dir": str(root / ".envs"),
    }
    model_settings = {"name": name, "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": str(uri)}}
    (root / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2) + "\n")


def kserve_command(ctx: RunContext, server: str, model: str, ports: list[int]) -> list[str]:
    model_dir = ctx.model_file[(server, model)].parent
    command = [str(ctx.venv["kserve"] / "bin" / "python"), str(ctx.bench_dir / "kserve_sklearn.py")]
    command += ["--model_name", model, "--model_dir", str(model_dir), "--http_port", str(ports[0])]
    command += ["--workers", str(ctx.settings.kserve_workers), "--enable_grpc", "true", "--grpc_port", str(ports[1])]
    if server == "kserve":
        # Its fastest: no log line per REST request or gRPC call.
        command += ["--enable_latency_logging", "false", "--quiet_grpc"]
        command += ["--log_config_file", str(ctx.bench_dir / "kserve_logging.json")]
    return command


def launch(ctx: RunContext, server: str, model: str, work: Path) -> Launched:
    """Start one server for one model in its own process group."""
    env = None
    if server.startswith("aurora"):
        ports = free_ports(2)
        command, env = aurora_command(ctx, server, model, ports)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(work / "prometheus")
    elif server == "mlserver":
        ports = free_ports(3)
        write_mlserver_config(work / "repo", model, ctx.model_file[(server, model)], ports)
        command = [str(ctx.venv["mlserver"] / "bin" / "mlserver"), "start", str(work / "repo")]
    else:
        ports = free_ports(2)
        command = kserve_command(ctx, server, model, ports)
    pgid = ctx.groups.start(command, work, work / "server.log", env)
    return Launched(pgid, f"http://127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}")


def wait_for_lines(path: Path, text: str, count: int, seconds: int) -> bool:
    """Wait until the file has `count` lines containing `text`."""
    for _ in range(seconds * 4):
        try:
            if sum(text in line for line in path.read_text(errors="replace").splitlines()) >= count:
                return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


def detail_of(ctx: RunContext, server: str) -> str:
    """How the server was set up, for the report's header."""
    workers = ctx.settings.kserve_workers
    default = "aurora-serve default" + (f" ({ctx.seen_workers} booted)" if ctx.seen_workers else "")
    detail = {
        "aurora": f"workers: {ctx.settings.aurora_workers or default}, gRPC on 127.0.0.1",
        "aurora-no-histogram": f"as aurora, serving a copy of the models {WITHOUT_BUCKETS}",
        "mlserver": "parallel_workers: 0, debug off (no access log), metrics and gRPC on free ports",
        "kserve": f"workers: {workers}, gRPC on 127.0.0.1, no log line per request or call",
        "kserve-logging": f"workers: {workers}, gRPC on 127.0.0.1, KServe's default request logging",
    }[server]
    return detail + (", own model copy" if server in ctx.peer_retrain else "")
