"""Everything a run sets up before the first server starts: tools, venvs, bodies and models.

A server that cannot be set up is marked failed here, with the reason, and the run goes on
with the others; only a run with no usable server at all stops.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from serving.context import RunContext
from serving.load import write_grpc_body
from serving.logs import BenchError, log
from serving.models import copy_without_histogram, train_models, train_peer_copies, write_references
from serving.settings import MODELS
from serving.tools import ensure_wrk, find_ghz
from serving.venvs import aurora_venv, ensure_peer_venv, output_of, sklearn_of, versions_of

SHOW_SERVER = "import server; print(server.__file__)"


def lock_cache(cache: Path):
    """Hold the cache's lock for the whole run; returns the open lock file."""
    lock = open(cache / ".lock", "w")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        raise BenchError(f"another bench/serve run holds {cache / '.lock'}") from err
    return lock


def find_tools(ctx: RunContext) -> None:
    ensure_wrk(ctx.run_dir)
    if not any(cell.encoding == "grpc" for cell in ctx.settings.cells):
        return
    ctx.ghz = find_ghz(ctx.settings.cache, ctx.run_dir, ctx.settings.ghz_version)
    if not ctx.ghz:
        ctx.notes.append(f"no ghz (see {ctx.run_dir}/ghz-install.log): the gRPC cells were not measured")


def set_up_aurora(ctx: RunContext) -> None:
    """Aurora's venv. Set up even when Aurora is not benchmarked: aurora-train makes the models for everyone."""
    venv, failure = aurora_venv(ctx.repo, ctx.settings.cache, ctx.settings.python)
    if venv:
        ctx.venv["aurora"] = venv
    if failure:
        ctx.failed["aurora"] = failure
    for tool in ("aurora-train", "aurora-serve"):
        if "aurora" not in ctx.failed and not (venv / "bin" / tool).exists():
            ctx.failed["aurora"] = f"{venv} has no {tool}"
    if "aurora" not in ctx.failed:
        ctx.aurora_python = venv / "bin" / "python"
        ctx.version_info["aurora"] = versions_of(ctx.aurora_python, "aurora-mlops", "scikit-learn", "numpy", "gunicorn")
        if ctx.settings.aurora_repo:
            # -P: the path as the console scripts see it, without the working directory.
            where = output_of([str(ctx.aurora_python), "-P", "-c", SHOW_SERVER], env=ctx.aurora_env()) or "?"
            log(f"aurora: BENCH_AURORA_REPO: serving {where}")
    # The same server serving a copy of the models without predictionBuckets: no prediction histogram.
    share(ctx, "aurora", "aurora-no-histogram")


def share(ctx: RunContext, server: str, variant: str) -> None:
    """A variant runs in its server's venv, and fails with it."""
    if server in ctx.venv:
        ctx.venv[variant] = ctx.venv[server]
    ctx.version_info[variant] = ctx.version_info.get(server, "")
    if server in ctx.failed:
        ctx.failed[variant] = ctx.failed[server]


def choose_sklearn(ctx: RunContext) -> None:
    """The scikit-learn version every peer must load pickles with: Aurora's."""
    ctx.sklearn = ctx.settings.sklearn
    if not ctx.sklearn and ctx.aurora_python:
        ctx.sklearn = sklearn_of(ctx.aurora_python)
    project_python = ctx.repo / ".venv" / "bin" / "python"
    if not ctx.sklearn and project_python.exists():
        ctx.sklearn = sklearn_of(project_python)
    if ctx.sklearn:
        log(f"scikit-learn for every server: {ctx.sklearn}")
    else:
        log("scikit-learn version of the project unknown; peers use their own and train their own models")
        ctx.notes.append("the project's scikit-learn version was unknown; each peer trained its own copy of the models")


def set_up_peer(ctx: RunContext, name: str, specs: list[str], dists: list[str]) -> None:
    s = ctx.settings
    venv = ensure_peer_venv(s.cache, name, specs, s.python, ctx.sklearn)
    if venv is None:
        ctx.failed[name] = f"venv install failed (see {s.cache}/venvs/{name}.install.log)"
        return
    ctx.venv[name] = venv
    ctx.version_info[name] = versions_of(venv / "bin" / "python", *dists)


def set_up_peers(ctx: RunContext) -> None:
    s = ctx.settings
    if s.wants("mlserver"):
        versions = [f"mlserver=={s.mlserver_version}", f"mlserver-sklearn=={s.mlserver_version}"]
        set_up_peer(ctx, "mlserver", versions, ["mlserver", "mlserver-sklearn", "scikit-learn", "numpy"])
    if s.wants("kserve") or s.wants("kserve-logging"):
        set_up_peer(ctx, "kserve", [f"kserve=={s.kserve_version}"], ["kserve", "scikit-learn", "numpy"])
        # The same server with KServe's default per-request access and latency logging.
        share(ctx, "kserve", "kserve-logging")


def choose_tool_python(ctx: RunContext) -> None:
    """A python with scikit-learn for the request bodies and reference predictions."""
    for server in ("aurora", "mlserver", "kserve"):
        if ctx.is_usable(server):
            ctx.tool_python = ctx.venv[server] / "bin" / "python"
            return
    raise BenchError(f"no server could be set up: {' '.join(ctx.failed.values())}")


def write_bodies(ctx: RunContext) -> None:
    rows = [str(n) for n in ctx.settings.row_counts]
    if ctx.job(ctx.tool_python, "load", "bodies", str(ctx.run_dir), *rows).returncode != 0:
        raise BenchError("could not write request bodies")
    for model in MODELS:
        for n in ctx.settings.row_counts:
            write_grpc_body(ctx.run_dir / f"body-{n}.grpc.json", model, ctx.run_dir / f"body-{n}.grpc-{model}.json")


def prepare(ctx: RunContext) -> None:
    """Tools, venvs, request bodies and models, in that order."""
    find_tools(ctx)
    set_up_aurora(ctx)
    choose_sklearn(ctx)
    set_up_peers(ctx)
    choose_tool_python(ctx)
    log(f"run folder: {ctx.run_dir}")
    write_bodies(ctx)
    train_models(ctx)
    # The reference predictions cover the largest body, so every check can use them.
    write_references(ctx, ctx.run_dir / f"body-{max(ctx.settings.row_counts)}.json")
    if ctx.settings.wants("aurora-no-histogram") and "aurora-no-histogram" not in ctx.failed:
        copy_without_histogram(ctx)
    train_peer_copies(ctx)
