"""The driver: prepare, then for each round, model and server start it, check and load every
cell, and stop it; then write meta.json and print the report."""

from __future__ import annotations

import functools
import os
import re
import time
import urllib.error
from pathlib import Path

from serving.checks import MISMATCH, check_http, histogram_count, wait_ready
from serving.context import RunContext
from serving.load import LoadRun, body_of, run_load, tool_of
from serving.logs import BenchError, log
from serving.preparation import lock_cache, prepare
from serving.processes import exit_on_signals, group_cpu_seconds
from serving.report import report
from serving.results import cell_failed, record, server_status, write_meta
from serving.servers import Launched, detail_of, launch, wait_for_lines
from serving.settings import MODEL_LABELS, MODELS, WRK_THREADS, Cell, read_settings
from serving.sockets import group_listeners
from serving.venvs import python_version


def mark(ctx: RunContext, server: str, model: str, status: str, reason: str = "") -> None:
    server_status(ctx.run_dir / "servers.jsonl", server, model, status, reason)
    if status == "failed":
        log(f"{server} / {model}: FAILED: {reason}")


def last_log_lines(logfile: Path) -> str:
    """The server log's last three lines on one line."""
    lines = logfile.read_text(errors="replace").splitlines(keepends=True)[-3:]
    return re.sub(r"[ \n]+", " ", "".join(lines))


def start_checked(ctx: RunContext, server: str, model: str, work: Path) -> Launched | None:
    """Start the server and wait until it is ready and listens on loopback only; None if it failed."""
    try:
        started = launch(ctx, server, model, work)
    except OSError as err:
        mark(ctx, server, model, "failed", f"could not start it (see {work}): {err}")
        return None
    pgid = started.pgid
    timeout = float(ctx.settings.ready_timeout)
    is_alive = functools.partial(ctx.groups.is_leader_alive, pgid)
    if reason := wait_ready(f"{started.base_url}/v2/health/ready", timeout, is_alive, pgid):
        ctx.groups.stop(pgid)
        mark(ctx, server, model, "failed", f"{reason}; last log lines: {last_log_lines(work / 'server.log')}")
        return None
    shown, outside = group_listeners(pgid)
    if outside:
        ctx.groups.stop(pgid)
        mark(ctx, server, model, "failed", outside)
        return None
    wait_for_workers(ctx, server, model, work)
    log(f"{server} / {model}: ready on {started.base_url} (listening: {shown})")
    return started


def wait_for_workers(ctx: RunContext, server: str, model: str, work: Path) -> None:
    if server.startswith("aurora"):
        time.sleep(1)
        booted = work.joinpath("server.log").read_text(errors="replace").splitlines()
        ctx.seen_workers = str(sum("Booting worker" in line for line in booted))
    if server.startswith("kserve"):
        # Ready answers as soon as the first REST worker is up; wait for all of them.
        workers = ctx.settings.kserve_workers
        if not wait_for_lines(work / "server.log", "Application startup complete", workers, 60):
            log(f"{server} / {model}: warning: not all {workers} workers reported startup")


def check_cell(ctx: RunContext, started: Launched, model: str, cell: Cell) -> tuple[int, str] | None:
    """One checked request of the cell; None when the cell is not measured here at all."""
    body = body_of(ctx.run_dir, cell, model)
    expected = ctx.run_dir / f"expected-{model}.json"
    if cell.encoding != "grpc":
        return check_http(f"{started.base_url}/v2/models/{model}/infer", body, expected)
    if not ctx.ghz or not ctx.aurora_python:
        return None
    args = ["grpc", started.grpc_address, str(body), "--expected", str(expected)]
    done = ctx.job(ctx.aurora_python, "checks", *args, capture_output=True, text=True)
    return done.returncode, done.stdout.strip()


def checked_cells(ctx: RunContext, started: Launched, server: str, model: str, round_: int) -> tuple[list[Cell], str]:
    """The cells the server answered correctly (a value mismatch only warns), and the warning."""
    measured, warning = [], ""
    for cell in ctx.settings.cells:
        checked = check_cell(ctx, started, model, cell)
        if checked is None:
            continue
        code, reason = checked
        if code == MISMATCH:
            warning = f"{cell}: {reason}"
            log(f"{server} / {model}: warning: {warning}")
        elif code != 0:
            log(f"{server} / {model}: cannot serve {cell}: {reason}")
            if round_ == 1:
                where = {"model": model, "server": server, "encoding": cell.encoding, "rows": cell.rows}
                cell_failed(ctx.run_dir / "cells.jsonl", where, reason)
            continue
        measured.append(cell)
    return measured, warning


def measure(ctx: RunContext, started: Launched, where: dict, cell: Cell, out: Path) -> None:
    """A discarded warm-up, then the measured run with the server group's CPU time around it."""
    model, c = where["model"], where["connections"]
    url = f"{started.base_url}/v2/models/{model}/infer"
    run = LoadRun(cell, body_of(ctx.run_dir, cell, model), c, url, started.grpc_address)
    run_load(ctx, run, "/dev/null", ctx.settings.warmup)
    cpu_before = group_cpu_seconds(started.pgid)
    run_load(ctx, run, str(out), ctx.settings.duration)
    cpu = round(group_cpu_seconds(started.pgid) - cpu_before, 3)
    summary = record(out, tool_of(cell), ctx.run_dir / "results.jsonl", where, cpu)
    what = f"{where['server']} / {model}:"
    if summary is None:
        log(f"{what} {cell.encoding} rows={cell.rows} conns={c}: no result (see {out})")
    else:
        log(f"{what} round {where['round']}, {cell.encoding} rows={cell.rows} conns={c}: {summary}")


def load_all(ctx: RunContext, started: Launched, server: str, model: str, cells: list[Cell], round_: int) -> bool:
    """Load every cell at every connection count; False when the server exited meanwhile."""
    work = ctx.run_dir / f"r{round_}-{server}-{model}"
    for cell in cells:
        for c in ctx.settings.connections:
            if not ctx.groups.is_alive(started.pgid):
                mark(ctx, server, model, "failed", f"server exited during the load (see {work}/server.log)")
                return False
            where = {"model": model, "server": server, "encoding": cell.encoding, "rows": cell.rows}
            where |= {"connections": c, "round": round_}
            measure(ctx, started, where, cell, work / f"load-{cell.encoding}-rows{cell.rows}-c{c}.txt")
    return True


def histogram_verdict(started: Launched, server: str) -> tuple[bool, str]:
    """The predictions the server's histogram counted, and whether the aurora / aurora-no-histogram
    pair is a comparison: one side must count predictions and the other have no such histogram."""
    try:
        ok, counted = histogram_count(f"{started.base_url}/metrics")
    except (OSError, urllib.error.URLError) as err:
        ok, counted = False, str(getattr(err, "reason", err))
    if not ok:
        counted = f"unknown ({counted})"
    if (server == "aurora" and not re.match(r"[1-9]", counted)) or (server != "aurora" and counted != "none"):
        return False, f"its prediction histogram counted {counted} predictions"
    return True, counted


def bench_one(ctx: RunContext, server: str, model: str, round_: int) -> None:
    """Start, check, load every cell, stop."""
    work = ctx.run_dir / f"r{round_}-{server}-{model}"
    work.mkdir(parents=True, exist_ok=True)
    log(f"{server} / {model}: starting")
    started = start_checked(ctx, server, model, work)
    if started is None:
        return
    cells, warning = checked_cells(ctx, started, server, model, round_)
    if not cells:
        ctx.groups.stop(started.pgid)
        mark(ctx, server, model, "failed", "it answered no cell's check (see the lines above)")
        return
    if not load_all(ctx, started, server, model, cells, round_):
        ctx.groups.stop(started.pgid)
        return
    if server.startswith("aurora"):
        ok, counted = histogram_verdict(started, server)
        if not ok:
            ctx.groups.stop(started.pgid)
            mark(ctx, server, model, "failed", counted)
            return
        log(f"{server} / {model}: prediction histogram: {counted} predictions counted")
    ctx.groups.stop(started.pgid)
    mark(ctx, server, model, "ok", warning)


def run_rounds(ctx: RunContext) -> None:
    """Rounds take the servers in turn, so that a slow spell of the machine is shared; every
    other round in reverse order, so that no server always follows the same one."""
    servers = ctx.settings.servers
    for round_ in range(1, ctx.settings.rounds + 1):
        order = servers if round_ % 2 else servers[::-1]
        for model in MODELS:
            for server in order:
                if server in ctx.failed:
                    if round_ == 1:
                        mark(ctx, server, model, "failed", ctx.failed[server])
                    continue
                bench_one(ctx, server, model, round_)


def new_meta(ctx: RunContext) -> dict:
    """meta.json: run settings, versions and notes, in the layout of earlier results."""
    s = ctx.settings
    servers = {name: (ctx.version_info.get(name) or "not installed", detail_of(ctx, name)) for name in s.servers}
    return {
        "started": ctx.stamp,
        "duration_s": float(s.duration),
        "warmup_s": float(s.warmup),
        "wrk_threads": WRK_THREADS,
        "connections": s.connections,
        "cells": [str(cell) for cell in s.cells],
        "rounds": s.rounds,
        "sklearn": ctx.model_sklearn or "unknown",
        "python": python_version(s.python),
        "cpus": os.cpu_count(),
        "models": list(MODELS),
        "model_labels": dict(MODEL_LABELS),
        "server_order": list(servers),
        "servers": {name: {"version": v or None, "detail": d or None} for name, (v, d) in servers.items()},
        "notes": ctx.notes,
    }


def main(bench_dir: Path) -> int:
    """Run the benchmark as the environment's knobs say; the exit code of the run."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        ctx = RunContext(read_settings(dict(os.environ), stamp), bench_dir, bench_dir.parent, stamp)
        for folder in (ctx.settings.cache / "venvs", ctx.settings.cache / "results", ctx.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        lock = lock_cache(ctx.settings.cache)  # noqa: F841 - held for the whole run
    except BenchError as err:
        log(f"error: {err}")
        return 1
    exit_on_signals()
    try:
        prepare(ctx)
        for name in ("results.jsonl", "servers.jsonl"):
            (ctx.run_dir / name).write_text("")
        run_rounds(ctx)
        write_meta(ctx.run_dir / "meta.json", new_meta(ctx))
        report(ctx.run_dir, Path(ctx.settings.out))
    except BenchError as err:
        log(f"error: {err}")
        return 1
    finally:
        ctx.groups.cleanup()
    return 0
