"""The report: a table per model, Aurora against the best peer per cell, the prediction
histogram's cost when measured, and the JSON result file. Every figure is the median over
the rounds; the JSON layout is the one earlier results have."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from serving.histogram import WITHOUT_HISTOGRAM, print_histogram_cost
from serving.tables import CELL_ORDER, cell_key, fmt, table

MEDIAN_FIELDS = ("rps", "rows_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "cpu_us_per_request")
SUMMED_FIELDS = ("requests", "non2xx", "socket_errors", "timeouts")
RESULT_HEADERS = ["server", "encoding", "rows/req", "conns", "req/s", "rows/s"]
RESULT_HEADERS += ["p50 ms", "p99 ms", "CPU us/req", "non-2xx", "sock err"]
COMPARISON_HEADERS = ["model", "encoding", "rows/req", "conns", "metric", "aurora", "best peer", "ratio"]
COMPARISON_HEADERS += ["aurora p99", "lowest peer p99", "p99 ratio"]


def load_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def median_over_rounds(results: list[dict]) -> list[dict]:
    """One measurement per cell: each figure is the median of that cell's rounds."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        key = (r["model"], r["server"], r.get("encoding", "json"), r["rows"], r["connections"])
        groups.setdefault(key, []).append(r)
    out = []
    for (model, server, encoding, rows, conns), runs in groups.items():
        cell = {"model": model, "server": server, "encoding": encoding, "rows": rows, "connections": conns}
        cell["rounds"] = len(runs)
        for field in MEDIAN_FIELDS:
            values = [r[field] for r in runs if r.get(field) is not None]
            cell[field] = statistics.median(values) if values else None
        for field in SUMMED_FIELDS:
            cell[field] = sum(r.get(field) or 0 for r in runs)
        out.append(cell)
    return out


def compared_cell(model: str, cell: tuple, aurora: dict | None, peer_cells: list[dict]) -> dict:
    encoding, rows, conns = cell
    metric = "rps" if rows == 1 else "rows_per_s"
    best = max(peer_cells, key=lambda r: r[metric])
    lowest_p99 = min(peer_cells, key=lambda r: r["p99_ms"])
    return {
        "model": model,
        "encoding": encoding,
        "rows": rows,
        "connections": conns,
        "metric": metric,
        "best_peer": best["server"],
        "best_peer_value": best[metric],
        "aurora_value": aurora[metric] if aurora else None,
        "throughput_ratio": (aurora[metric] / best[metric]) if aurora and best[metric] else None,
        "lowest_p99_peer": lowest_p99["server"],
        "peer_p99_ms": lowest_p99["p99_ms"],
        "aurora_p99_ms": aurora["p99_ms"] if aurora else None,
        "p99_ratio": (aurora["p99_ms"] / lowest_p99["p99_ms"]) if aurora and lowest_p99["p99_ms"] else None,
    }


def compare(results: list[dict], models: list[str], peers: list[str]) -> list[dict]:
    """Aurora against the best peer, per model, encoding, rows and connections."""
    index = {(r["model"], r["server"], r["encoding"], r["rows"], r["connections"]): r for r in results}
    cells = sorted(
        {(r["encoding"], r["rows"], r["connections"]) for r in results},
        key=lambda c: (CELL_ORDER.get(c[0], 9), c[1], c[2]),
    )
    out = []
    for model in models:
        for cell in cells:
            peer_cells = [index[k] for p in peers if (k := (model, p, *cell)) in index]
            if peer_cells:
                out.append(compared_cell(model, cell, index.get((model, "aurora", *cell)), peer_cells))
    return out


def status_by_server(servers: list[dict]) -> dict[tuple, dict]:
    """One status per server and model: a failure in any round stands."""
    status = {}
    for s in servers:
        key = (s["server"], s.get("model"))
        if key not in status or s["status"] != "ok":
            status[key] = s
    return status


def print_header(meta: dict) -> None:
    print()
    print("=" * 78)
    print(
        f"Aurora serving benchmark  {meta['started']}  ({meta['duration_s']}s per cell, "
        f"{meta['warmup_s']}s warm-up, wrk -t{meta['wrk_threads']} / ghz; "
        f"median of {meta.get('rounds', 1)} round(s))"
    )
    print(f"models trained with scikit-learn {meta['sklearn']}; python {meta['python']}; {meta['cpus']} CPUs")
    for name, info in meta["servers"].items():
        print(f"  {name:<9} {info.get('version') or '?'}  [{info.get('detail') or ''}]")
    for note in meta.get("notes", []):
        print(f"note: {note}")
    print("=" * 78)


def result_row(r: dict) -> list[str]:
    return [
        r["server"],
        r["encoding"],
        str(r["rows"]),
        str(r["connections"]),
        fmt(r["rps"]),
        fmt(r["rows_per_s"], 0),
        fmt(r["p50_ms"], 2),
        fmt(r["p99_ms"], 2),
        fmt(r.get("cpu_us_per_request")),
        str(r["non2xx"]),
        str(r["socket_errors"]) if r["socket_errors"] else "0",
    ]


def print_model(meta: dict, model: str, results: list[dict], status: dict, unsupported: list[dict]) -> None:
    """The table of one model, then its failures, warnings and cells a server cannot serve."""
    print(f"\nModel: {meta['model_labels'].get(model, model)} ({model})")
    rows = [result_row(r) for r in results if r["model"] == model]
    failed = [(name, s) for name in meta["server_order"] if (s := status.get((name, model))) and s["status"] != "ok"]
    rows += [[name, "-", "-", "-", "FAILED", "", "", "", "", "", ""] for name, _ in failed]
    print(table(RESULT_HEADERS, rows))
    for name in meta["server_order"]:
        s = status.get((name, model))
        if s and s["status"] != "ok":
            print(f"  {name} failed: {s.get('reason', 'unknown')}")
        elif s and s.get("warning"):
            print(f"  {name} warning: {s['warning']}")
    for cell in unsupported:
        if cell["model"] == model:
            what = f"{cell['encoding']} with {cell['rows']} row(s)"
            print(f"  {cell['server']} cannot serve {what}: {cell['reason']}")


def comparison_row(c: dict, labels: dict) -> list[str]:
    what = "req/s" if c["metric"] == "rps" else "rows/s"
    digits = 1 if c["metric"] == "rps" else 0
    return [
        labels.get(c["model"], c["model"]),
        c["encoding"],
        str(c["rows"]),
        str(c["connections"]),
        what,
        fmt(c["aurora_value"], digits),
        f"{c['best_peer']} {fmt(c['best_peer_value'], digits)}",
        fmt(c["throughput_ratio"], 2) + ("x" if c["throughput_ratio"] is not None else ""),
        fmt(c["aurora_p99_ms"], 2),
        f"{c['lowest_p99_peer']} {fmt(c['peer_p99_ms'], 2)}",
        fmt(c["p99_ratio"], 2) + ("x" if c["p99_ratio"] is not None else ""),
    ]


def print_comparison(comparison: list[dict], labels: dict, results: list[dict]) -> None:
    print("\nAurora vs best peer (throughput ratio > 1: Aurora faster; p99 ratio < 1: Aurora lower)")
    if comparison:
        print(table(COMPARISON_HEADERS, [comparison_row(c, labels) for c in comparison]))
    else:
        print("(no peer results to compare with)")
    if not any(r["server"] == "aurora" for r in results):
        print("Aurora produced no results in this run, so the ratios are empty.")


def report(run_dir: Path, out: Path) -> None:
    """Print a table per model and the Aurora-vs-best-peer ratios; write the JSON file."""
    meta = json.loads((run_dir / "meta.json").read_text())
    servers = load_jsonl(run_dir / "servers.jsonl")
    rounds = load_jsonl(run_dir / "results.jsonl")
    results = sorted(median_over_rounds(rounds), key=cell_key)
    unsupported = load_jsonl(run_dir / "cells.jsonl")
    status = status_by_server(servers)

    print_header(meta)
    for model in meta["models"]:
        print_model(meta, model, results, status, unsupported)
    peers = [s for s in meta["server_order"] if s not in ("aurora", WITHOUT_HISTOGRAM)]
    comparison = compare(results, meta["models"], peers)
    print_comparison(comparison, meta["model_labels"], results)
    cost = print_histogram_cost(rounds, meta["model_labels"])

    document = {
        "meta": meta,
        "servers": servers,
        "results": results,
        "rounds": rounds,
        "unsupported": unsupported,
        "comparison": comparison,
        "histogram_cost": cost,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nResults JSON: {out}")
