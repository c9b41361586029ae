"""The run folder's records: one results.jsonl line per measured load run (read from wrk's
BENCH_RESULT line or ghz's JSON report), servers.jsonl, cells.jsonl and meta.json."""

from __future__ import annotations

import json
from pathlib import Path

# Calls still in flight when ghz's duration ends fail on ghz's own closed connection.
CUT_OFF = "use of closed network connection"


def wrk_result(path: Path) -> dict | None:
    """The BENCH_RESULT line of v2_infer.lua, as one results.jsonl measurement."""
    result = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT ") :])
    if result is None:
        return None
    errors = result["connect_errors"] + result["read_errors"] + result["write_errors"] + result["timeouts"]
    keep = ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "requests", "duration_s", "non2xx", "timeouts")
    return {**{k: result[k] for k in keep}, "socket_errors": errors}


def ghz_result(path: Path) -> dict | None:
    """ghz's JSON report as one measurement; a call not answered OK counts as non-2xx."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not report.get("count"):
        return None
    ms = 1e-6  # ghz reports nanoseconds
    percentile = {p["percentage"]: p["latency"] * ms for p in report.get("latencyDistribution") or []}
    codes = report.get("statusCodeDistribution") or {}
    # The load tool's cut-off, not an answer from the server, so not counted as errors.
    cut = sum(n for message, n in (report.get("errorDistribution") or {}).items() if CUT_OFF in message)
    failed = sum(n for code, n in codes.items() if code != "OK") - cut
    timeouts = codes.get("DeadlineExceeded", 0)
    return {
        "rps": report["rps"],
        "p50_ms": percentile.get(50),
        "p90_ms": percentile.get(90),
        "p99_ms": percentile.get(99),
        "mean_ms": report["average"] * ms,
        "max_ms": report["slowest"] * ms,
        "requests": report["count"],
        "duration_s": report["total"] * 1e-9,
        "non2xx": failed - timeouts,
        "timeouts": timeouts,
        "socket_errors": timeouts,
        "cut_off": cut,
    }


def append_jsonl(path: Path, entry: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def record(output: Path, tool: str, results: Path, where: dict, cpu_seconds: float) -> str | None:
    """Turn one wrk or ghz output file into a results.jsonl line; returns its summary, or None.

    `where` names the measurement: model, server, encoding, rows, connections and round.
    """
    result = (ghz_result if tool == "ghz" else wrk_result)(output)
    if result is None:
        return None
    entry = {
        **where,
        **result,
        "rows_per_s": result["rps"] * where["rows"],
        # CPU the server spent per request it answered, whatever the load tool's share of the cores.
        "cpu_us_per_request": cpu_seconds * 1e6 / result["requests"] if cpu_seconds else None,
    }
    append_jsonl(results, entry)
    return (
        f"{entry['rps']:,.1f} req/s ({entry['rows_per_s']:,.0f} rows/s), p50 {entry['p50_ms']:.2f} ms, "
        f"p99 {entry['p99_ms']:.2f} ms, non-2xx {entry['non2xx']}, socket errors {entry['socket_errors']}"
    )


def cell_failed(path: Path, cell: dict, reason: str) -> None:
    """Append a cell a server could not serve (its check failed) to cells.jsonl."""
    append_jsonl(path, {**cell, "reason": reason})


def server_status(path: Path, server: str, model: str, status: str, reason: str) -> None:
    """Append one server record (status ok/failed, reason) to servers.jsonl."""
    entry = {"server": server, "model": model, "status": status}
    if reason:
        entry["reason" if status != "ok" else "warning"] = reason
    append_jsonl(path, entry)


def write_meta(path: Path, meta: dict) -> None:
    """Write meta.json: run settings, versions and notes."""
    path.write_text(json.dumps(meta, indent=2) + "\n")
