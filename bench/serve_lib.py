"""Helpers for bench/serve. One subcommand per job; see `python serve_lib.py -h`.

Subcommands that touch scikit-learn (bodies, train, expect) must run under a
python that has it; the others use the standard library only, so any python 3.9+
will do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

FEATURES = 10


# --------------------------------------------------------------------------- ports


def cmd_port(args: argparse.Namespace) -> int:
    """Print free TCP ports on 127.0.0.1 (all held open until every one is picked)."""
    held = []
    try:
        for _ in range(args.count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in held))
    finally:
        for s in held:
            s.close()
    return 0


# --------------------------------------------------------------------------- data and models


def diabetes():
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    return bunch.data, bunch.target


def cmd_bodies(args: argparse.Namespace) -> int:
    """Write body-N.json for each N: the first N rows of the diabetes data as a V2 request."""
    features, _ = diabetes()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for rows in args.rows:
        if not 1 <= rows <= len(features):
            print(f"rows must be 1..{len(features)}, got {rows}", file=sys.stderr)
            return 2
        block = features[:rows]
        body = {
            "inputs": [
                {
                    "name": "input-0",
                    "shape": [rows, FEATURES],
                    "datatype": "FP64",
                    "data": [float(v) for v in block.reshape(-1)],
                }
            ]
        }
        (out / f"body-{rows}.json").write_text(json.dumps(body, separators=(",", ":")))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """Fallback trainer, equivalent to aurora-train for the two benchmark models.

    Same data, same split (train_test_split, test_size=0.2, random_state=42) and the
    same estimators (Ridge(); GradientBoostingRegressor(n_estimators=100,
    random_state=42)). Writes ROOT/MODEL/versions/VERSION/model.joblib and the
    ROOT/MODEL/latest symlink, like aurora-train's store layout.
    """
    import joblib
    import sklearn
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    features, target = diabetes()
    x_train, _, y_train, _ = train_test_split(features, target, test_size=0.2, random_state=42)
    if args.estimator == "ridge":
        estimator = Ridge()
    else:
        estimator = GradientBoostingRegressor(n_estimators=args.n_estimators, random_state=42)
    estimator.fit(x_train, y_train)

    version = datetime.now(UTC).strftime("v%Y%m%d-%H%M%S")
    model_dir = Path(args.model_root) / args.model
    folder = model_dir / "versions" / version
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, folder / "model.joblib")
    (folder / "metadata.json").write_text(
        json.dumps(
            {
                "trainedBy": "bench/serve_lib.py train",
                "estimator": args.estimator,
                "sklearn": sklearn.__version__,
                "dataset": "builtin:diabetes",
            },
            indent=2,
        )
    )
    latest = model_dir / "latest"
    tmp = model_dir / ".latest.tmp"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(Path("versions") / version)
    os.replace(tmp, latest)
    print(folder / "model.joblib")
    return 0


def cmd_expect(args: argparse.Namespace) -> int:
    """Predict the body rows with a model file locally: the reference every server must match."""
    import joblib
    import numpy as np

    model = joblib.load(args.model_file)
    body = json.loads(Path(args.body).read_text())
    tensor = body["inputs"][0]
    x = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    print(json.dumps([float(v) for v in model.predict(x)]))
    return 0


# --------------------------------------------------------------------------- HTTP checks


def http(method: str, url: str, body: bytes | None = None, timeout: float = 10.0):
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def cmd_wait_ready(args: argparse.Namespace) -> int:
    """Poll URL until it answers 200; fail early if PID exits or TIMEOUT passes."""
    deadline = time.monotonic() + args.timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if args.pid and not pid_alive(args.pid):
            print(f"server process {args.pid} exited before it was ready ({last})")
            return 1
        try:
            status, _ = http("GET", args.url, timeout=2.0)
            if status == 200:
                return 0
            last = f"HTTP {status}"
        except (OSError, urllib.error.URLError) as err:
            last = str(getattr(err, "reason", err))
        time.sleep(0.25)
    print(f"not ready after {args.timeout:.0f}s ({last})")
    return 1


def predictions_of(payload: dict) -> list[float]:
    """The prediction values of a V2 response (first output, flattened)."""
    outputs = payload.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise ValueError(f"no 'outputs' list in response: {json.dumps(payload)[:300]}")
    data = outputs[0].get("data")
    if not isinstance(data, list):
        raise ValueError(f"first output has no 'data' list: {json.dumps(outputs[0])[:300]}")
    flat: list[float] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            flat.append(float(item))
    return flat


def cmd_check(args: argparse.Namespace) -> int:
    """POST a body once; require 200, N predictions and, if given, the expected values."""
    body = Path(args.body).read_bytes()
    rows = json.loads(body)["inputs"][0]["shape"][0]
    try:
        status, raw = http("POST", args.url, body, timeout=30.0)
    except (OSError, urllib.error.URLError) as err:
        print(f"request failed: {getattr(err, 'reason', err)}")
        return 1
    if status != 200:
        print(f"HTTP {status}: {raw[:300].decode(errors='replace')}")
        return 1
    try:
        values = predictions_of(json.loads(raw))
    except (ValueError, AttributeError) as err:
        print(f"unreadable response: {err}")
        return 1
    if len(values) != rows:
        print(f"expected {rows} predictions, got {len(values)}")
        return 1
    if args.expected:
        expected = json.loads(Path(args.expected).read_text())[:rows]
        if len(expected) != rows:
            print(f"the reference has {len(expected)} predictions, fewer than {rows}")
            return 1
        worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(values, expected, strict=True))
        if worst > 1e-6:
            print(f"predictions differ from the reference model (max rel. diff {worst:.3g})")
            return 3
    return 0


# --------------------------------------------------------------------------- listeners


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def decode_address(hex_addr: str, v6: bool) -> str:
    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    if v6:
        # /proc prints four host-order 32-bit words.
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        text = socket.inet_ntop(socket.AF_INET6, raw)
    else:
        text = socket.inet_ntop(socket.AF_INET, raw[::-1])
    return f"{text}:{int(port, 16)}"


def listening(inodes: set[str]) -> list[str]:
    found = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                found.append(decode_address(cols[1], v6))
    return sorted(set(found))


def is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127.")


def cmd_listeners(args: argparse.Namespace) -> int:
    """List the TCP listeners of a process group; fail if any is not on loopback."""
    inodes: set[str] = set()
    for pid in group_pids(args.pgid):
        inodes |= socket_inodes(pid)
    addresses = listening(inodes)
    outside = [a for a in addresses if not is_loopback(a)]
    print(" ".join(addresses) if addresses else "(none)")
    if outside:
        print(f"listening outside loopback: {' '.join(outside)}")
        return 1
    return 0


# --------------------------------------------------------------------------- MLServer


def cmd_mlserver_config(args: argparse.Namespace) -> int:
    """Write an MLServer repository: settings.json plus one model-settings.json."""
    root = Path(args.dir)
    model_dir = root / args.name
    model_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": args.http_port,
        "grpc_port": args.grpc_port,
        "metrics_port": args.metrics_port,
        "parallel_workers": 0,
        "debug": False,
        "model_repository_root": str(root),
        "load_models_at_startup": True,
        "metrics_dir": str(root / ".metrics"),
        "environments_dir": str(root / ".envs"),
    }
    model_settings = {
        "name": args.name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": args.uri},
    }
    (root / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------- report


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.{digits}f}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [
        "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    ]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )
    return "\n".join(lines)


def load_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def compare(results: list[dict], models: list[str], peers: list[str]) -> list[dict]:
    """Aurora against the best peer, per model, rows and connections."""
    index = {(r["model"], r["server"], r["rows"], r["connections"]): r for r in results}
    cells = sorted({(r["model"], r["rows"], r["connections"]) for r in results})
    out = []
    for model in models:
        for m, rows, conns in cells:
            if m != model:
                continue
            metric = "rps" if rows == 1 else "rows_per_s"
            aurora = index.get((model, "aurora", rows, conns))
            peer_cells = [index[(model, p, rows, conns)] for p in peers if (model, p, rows, conns) in index]
            if not peer_cells:
                continue
            best = max(peer_cells, key=lambda r: r[metric])
            lowest_p99 = min(peer_cells, key=lambda r: r["p99_ms"])
            entry = {
                "model": model,
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
            out.append(entry)
    return out


def cmd_report(args: argparse.Namespace) -> int:
    """Print a table per model and the Aurora-vs-best-peer ratios; write the JSON file."""
    run_dir = Path(args.run_dir)
    meta = json.loads((run_dir / "meta.json").read_text())
    servers = load_jsonl(run_dir / "servers.jsonl")
    results = load_jsonl(run_dir / "results.jsonl")

    # Collapse per-model server records into one status per server and model.
    status = {}
    for s in servers:
        status[(s["server"], s.get("model"))] = s

    print()
    print("=" * 78)
    print(
        f"Aurora serving benchmark  {meta['started']}  ({meta['duration_s']}s per cell, "
        f"{meta['warmup_s']}s warm-up, wrk -t{meta['wrk_threads']})"
    )
    print(f"models trained with scikit-learn {meta['sklearn']}; python {meta['python']}; {meta['cpus']} CPUs")
    for name, info in meta["servers"].items():
        print(f"  {name:<9} {info.get('version') or '?'}  [{info.get('detail') or ''}]")
    for note in meta.get("notes", []):
        print(f"note: {note}")
    print("=" * 78)

    peers = [s for s in meta["server_order"] if s != "aurora"]
    for model in meta["models"]:
        label = meta["model_labels"].get(model, model)
        print(f"\nModel: {label} ({model})")
        rows = []
        for r in results:
            if r["model"] != model:
                continue
            rows.append(
                [
                    r["server"],
                    str(r["rows"]),
                    str(r["connections"]),
                    fmt(r["rps"]),
                    fmt(r["rows_per_s"], 0),
                    fmt(r["p50_ms"], 2),
                    fmt(r["p99_ms"], 2),
                    str(r["non2xx"]),
                    str(r["socket_errors"]) if r["socket_errors"] else "0",
                ]
            )
        for name in meta["server_order"]:
            s = status.get((name, model))
            if s and s["status"] != "ok":
                rows.append([name, "-", "-", "FAILED", "", "", "", "", ""])
        headers = ["server", "rows/req", "conns", "req/s", "rows/s", "p50 ms", "p99 ms", "non-2xx", "sock err"]
        print(table(headers, rows))
        for name in meta["server_order"]:
            s = status.get((name, model))
            if s and s["status"] != "ok":
                print(f"  {name} failed: {s.get('reason', 'unknown')}")
            elif s and s.get("warning"):
                print(f"  {name} warning: {s['warning']}")

    comparison = compare(results, meta["models"], peers)
    print("\nAurora vs best peer (throughput ratio > 1: Aurora faster; p99 ratio < 1: Aurora lower)")
    crow = []
    for c in comparison:
        what = "req/s" if c["metric"] == "rps" else "rows/s"
        digits = 1 if c["metric"] == "rps" else 0
        crow.append(
            [
                meta["model_labels"].get(c["model"], c["model"]),
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
        )
    if crow:
        print(
            table(
                [
                    "model",
                    "rows/req",
                    "conns",
                    "metric",
                    "aurora",
                    "best peer",
                    "ratio",
                    "aurora p99",
                    "lowest peer p99",
                    "p99 ratio",
                ],
                crow,
            )
        )
    else:
        print("(no peer results to compare with)")
    if not any(r["server"] == "aurora" for r in results):
        print("Aurora produced no results in this run, so the ratios are empty.")

    document = {
        "meta": meta,
        "servers": servers,
        "results": results,
        "comparison": comparison,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nResults JSON: {out}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """Turn one wrk output file into a results.jsonl line."""
    result = None
    for line in Path(args.wrk_output).read_text(errors="replace").splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT ") :])
    if result is None:
        print(f"no BENCH_RESULT line in {args.wrk_output}")
        return 1
    entry = {
        "model": args.model,
        "server": args.server,
        "rows": args.rows,
        "connections": args.connections,
        "rps": result["rps"],
        "rows_per_s": result["rps"] * args.rows,
        "p50_ms": result["p50_ms"],
        "p90_ms": result["p90_ms"],
        "p99_ms": result["p99_ms"],
        "mean_ms": result["mean_ms"],
        "max_ms": result["max_ms"],
        "requests": result["requests"],
        "duration_s": result["duration_s"],
        "non2xx": result["non2xx"],
        "socket_errors": result["connect_errors"] + result["read_errors"] + result["write_errors"] + result["timeouts"],
        "timeouts": result["timeouts"],
    }
    with open(args.results, "a") as f:
        f.write(json.dumps(entry) + "\n")
    print(
        f"{entry['rps']:,.1f} req/s ({entry['rows_per_s']:,.0f} rows/s), p50 {entry['p50_ms']:.2f} ms, "
        f"p99 {entry['p99_ms']:.2f} ms, non-2xx {entry['non2xx']}, socket errors {entry['socket_errors']}"
    )
    return 0


def cmd_server_status(args: argparse.Namespace) -> int:
    """Append one server record (status ok/failed, reason) to servers.jsonl."""
    entry = {"server": args.server, "model": args.model, "status": args.status}
    if args.reason:
        entry["reason" if args.status != "ok" else "warning"] = args.reason
    with open(args.file, "a") as f:
        f.write(json.dumps(entry) + "\n")
    return 0


def cmd_meta(args: argparse.Namespace) -> int:
    """Write meta.json: run settings, versions and notes."""
    servers = {}
    for item in args.server:
        name, _, rest = item.partition("=")
        version, _, detail = rest.partition("|")
        servers[name] = {"version": version or None, "detail": detail or None}
    meta = {
        "started": args.started,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "wrk_threads": args.threads,
        "connections": args.connections,
        "rows": args.rows,
        "sklearn": args.sklearn,
        "python": args.python,
        "cpus": os.cpu_count(),
        "models": args.models,
        "model_labels": dict(label.split("=", 1) for label in args.label),
        "server_order": list(servers),
        "servers": servers,
        "notes": args.note,
    }
    Path(args.out).write_text(json.dumps(meta, indent=2) + "\n")
    return 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("port", help="print free 127.0.0.1 ports")
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(func=cmd_port)

    p = sub.add_parser("bodies", help="write V2 request bodies of diabetes rows")
    p.add_argument("out_dir")
    p.add_argument("rows", type=int, nargs="+")
    p.set_defaults(func=cmd_bodies)

    p = sub.add_parser("train", help="fallback trainer (same models as aurora-train)")
    p.add_argument("--model-root", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--estimator", required=True, choices=["ridge", "gradient_boosting"])
    p.add_argument("--n-estimators", type=int, default=100)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("expect", help="reference predictions of a model for a body")
    p.add_argument("model_file")
    p.add_argument("body")
    p.set_defaults(func=cmd_expect)

    p = sub.add_parser("wait-ready", help="poll a URL until 200")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--pid", type=int, default=0)
    p.set_defaults(func=cmd_wait_ready)

    p = sub.add_parser("check", help="one V2 request, checked")
    p.add_argument("url")
    p.add_argument("body")
    p.add_argument("--expected")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("listeners", help="TCP listeners of a process group; loopback only")
    p.add_argument("pgid", type=int)
    p.set_defaults(func=cmd_listeners)

    p = sub.add_parser("mlserver-config", help="write MLServer settings")
    p.add_argument("dir")
    p.add_argument("--name", required=True)
    p.add_argument("--uri", required=True)
    p.add_argument("--http-port", type=int, required=True)
    p.add_argument("--grpc-port", type=int, required=True)
    p.add_argument("--metrics-port", type=int, required=True)
    p.set_defaults(func=cmd_mlserver_config)

    p = sub.add_parser("record", help="wrk output -> results.jsonl")
    p.add_argument("wrk_output")
    p.add_argument("--results", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("server-status", help="append a server record")
    p.add_argument("file")
    p.add_argument("--server", required=True)
    p.add_argument("--model")
    p.add_argument("--status", required=True, choices=["ok", "failed"])
    p.add_argument("--reason", default="")
    p.set_defaults(func=cmd_server_status)

    p = sub.add_parser("meta", help="write meta.json")
    p.add_argument("out")
    p.add_argument("--started", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--warmup", type=float, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--connections", type=int, nargs="+", required=True)
    p.add_argument("--rows", type=int, nargs="+", required=True)
    p.add_argument("--sklearn", required=True)
    p.add_argument("--python", default="")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--label", action="append", default=[], help="MODEL=LABEL")
    p.add_argument("--server", action="append", default=[], help="NAME=VERSION|DETAIL, in run order")
    p.add_argument("--note", action="append", default=[])
    p.set_defaults(func=cmd_meta)

    p = sub.add_parser("report", help="print tables, write JSON")
    p.add_argument("run_dir")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
