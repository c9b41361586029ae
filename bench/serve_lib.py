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
import statistics
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

FEATURES = 10
# How a cell sends its rows: V2 JSON, V2 binary tensor data (both over wrk), V2 gRPC (ghz).
ENCODINGS = ("json", "binary", "grpc")


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
    """Write the first N diabetes rows as V2 requests, once per encoding.

    body-N.json: JSON tensor data; body-N.bin (+ body-N.bin.len, the JSON header's
    length): the binary tensor data extension; body-N.grpc.json: a gRPC
    ModelInferRequest in protobuf's JSON form, for ghz.
    """
    features, _ = diabetes()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for rows in args.rows:
        if not 1 <= rows <= len(features):
            print(f"rows must be 1..{len(features)}, got {rows}", file=sys.stderr)
            return 2
        block = features[:rows].astype("<f8")
        tensor = {"name": "input-0", "shape": [rows, FEATURES], "datatype": "FP64"}
        values = [float(v) for v in block.reshape(-1)]
        compact = {"separators": (",", ":")}
        (out / f"body-{rows}.json").write_text(json.dumps({"inputs": [{**tensor, "data": values}]}, **compact))
        raw = block.tobytes()
        header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]}, **compact)
        (out / f"body-{rows}.bin").write_bytes(header.encode() + raw)
        (out / f"body-{rows}.bin.len").write_text(str(len(header.encode())))
        grpc_tensor = {**tensor, "contents": {"fp64Contents": values}}
        (out / f"body-{rows}.grpc.json").write_text(json.dumps({"inputs": [grpc_tensor]}, **compact))
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


def cmd_without_histogram(args: argparse.Namespace) -> int:
    """Copy a model's latest version without predictionBuckets: one the server serves with no
    prediction histogram, like a version published before the histogram existed. Needs the
    repo's python (it signs the copy with the trainer's own SHA256SUMS writer)."""
    import shutil

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from trainer.store import write_checksums

    source = (Path(args.model_root) / args.model / "latest").resolve()
    target = Path(args.out) / args.model / "versions" / source.name
    shutil.copytree(source, target)
    metadata = json.loads((target / "metadata.json").read_text())
    metadata.pop("predictionBuckets", None)
    (target / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    write_checksums(target)
    (Path(args.out) / args.model / "latest").symlink_to(Path("versions") / source.name)
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


def http(method: str, url: str, body: bytes | None = None, timeout: float = 10.0, header_length: int = 0):
    req = urllib.request.Request(url, data=body, method=method)
    if header_length:
        req.add_header("Content-Type", "application/octet-stream")
        req.add_header("Inference-Header-Content-Length", str(header_length))
    elif body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def cmd_histogram_count(args: argparse.Namespace) -> int:
    """Print how many predictions a server's /metrics histogram counted ("none": no histogram)."""
    status, payload = http("GET", args.url)
    if status != 200:
        print(f"GET {args.url} answered {status}")
        return 1
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in payload.decode().splitlines()
        if line.startswith("aurora_inference_prediction_count")
    ]
    print(f"{sum(counts):.0f}" if counts else "none")
    return 0


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
    """POST a body once; require 200, N predictions and, if given, the expected values.

    A body-N.bin is sent with the binary extension's headers (its JSON length from
    body-N.bin.len); the answer asked for is JSON either way.
    """
    path = Path(args.body)
    body = path.read_bytes()
    header_length = int(Path(f"{path}.len").read_text()) if path.suffix == ".bin" else 0
    rows = json.loads(body[: header_length or None])["inputs"][0]["shape"][0]
    try:
        status, raw = http("POST", args.url, body, timeout=30.0, header_length=header_length)
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
    return compare_predictions(values, rows, args.expected)


def compare_predictions(values: list[float], rows: int, expected_file: str | None) -> int:
    """0 when the answer has `rows` values equal to the reference; 3 on a value mismatch."""
    if len(values) != rows:
        print(f"expected {rows} predictions, got {len(values)}")
        return 1
    if expected_file:
        expected = json.loads(Path(expected_file).read_text())[:rows]
        if len(expected) != rows:
            print(f"the reference has {len(expected)} predictions, fewer than {rows}")
            return 1
        worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(values, expected, strict=True))
        if worst > 1e-6:
            print(f"predictions differ from the reference model (max rel. diff {worst:.3g})")
            return 3
    return 0


# --------------------------------------------------------------------------- gRPC checks


def cmd_grpc_body(args: argparse.Namespace) -> int:
    """Copy body-N.grpc.json with model_name set: ghz sends the file as it is."""
    body = json.loads(Path(args.body).read_text())
    Path(args.out).write_text(json.dumps({"modelName": args.model, **body}, separators=(",", ":")))
    return 0


def output_values(output, raw: bytes | None) -> list[float]:
    """The values of one gRPC output tensor, typed contents or raw little-endian bytes."""
    import array

    if raw is not None:
        code = {"FP64": "d", "FP32": "f", "INT64": "q", "INT32": "i"}.get(output.datatype)
        if code is None:
            raise ValueError(f"raw output of datatype {output.datatype} is not read here")
        return [float(v) for v in array.array(code, raw)]
    contents = output.contents
    for field in ("fp64_contents", "fp32_contents", "int64_contents", "int_contents"):
        values = getattr(contents, field)
        if len(values):
            return [float(v) for v in values]
    return []


def cmd_grpc_check(args: argparse.Namespace) -> int:
    """One ModelInfer call with a ghz body; require N predictions equal to the reference.

    Needs grpcio and the repo's generated stubs: run it with Aurora's python.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import grpc
    from google.protobuf import json_format

    from server.protos import open_inference_pb2 as pb
    from server.protos import open_inference_pb2_grpc as pb_grpc

    request = json_format.Parse(Path(args.body).read_text(), pb.ModelInferRequest())
    rows = request.inputs[0].shape[0]
    with grpc.insecure_channel(args.address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
            response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
        except (grpc.RpcError, grpc.FutureTimeoutError) as err:
            reason = err.details() if isinstance(err, grpc.RpcError) else "channel not ready in 10s"
            print(f"gRPC call failed: {reason}")
            return 1
    if not response.outputs:
        print("the response has no outputs")
        return 1
    raw = response.raw_output_contents[0] if response.raw_output_contents else None
    try:
        values = output_values(response.outputs[0], raw)
    except ValueError as err:
        print(err)
        return 1
    return compare_predictions(values, rows, args.expected)


# --------------------------------------------------------------------------- listeners


def group_stats(pgid: int) -> dict[int, list[str]]:
    """/proc/PID/stat fields (after the command name) of every process in a process group."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended between the listing and now
        if int(fields[2]) == pgid:
            stats[int(entry.name)] = fields
    return stats


def group_pids(pgid: int) -> list[int]:
    return list(group_stats(pgid))


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of a process group's live processes and of the children they reaped."""
    ticks = sum(int(fields[i]) for fields in group_stats(pgid).values() for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime, in clock ticks


def cmd_group_cpu(args: argparse.Namespace) -> int:
    print(f"{group_cpu_seconds(args.pgid):.3f}")
    return 0


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
        for field in ("rps", "rows_per_s", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "cpu_us_per_request"):
            values = [r[field] for r in runs if r.get(field) is not None]
            cell[field] = statistics.median(values) if values else None
        for field in ("requests", "non2xx", "socket_errors", "timeouts"):
            cell[field] = sum(r.get(field) or 0 for r in runs)
        out.append(cell)
    return out


CELL_ORDER = {name: i for i, name in enumerate(ENCODINGS)}


def cell_key(r: dict) -> tuple:
    return (CELL_ORDER.get(r["encoding"], 9), r["rows"], r["connections"])


def compare(results: list[dict], models: list[str], peers: list[str]) -> list[dict]:
    """Aurora against the best peer, per model, encoding, rows and connections."""
    index = {(r["model"], r["server"], r["encoding"], r["rows"], r["connections"]): r for r in results}
    cells = sorted(
        {(r["encoding"], r["rows"], r["connections"]) for r in results},
        key=lambda c: (CELL_ORDER.get(c[0], 9), c[1], c[2]),
    )
    out = []
    for model in models:
        for encoding, rows, conns in cells:
            metric = "rps" if rows == 1 else "rows_per_s"
            aurora = index.get((model, "aurora", encoding, rows, conns))
            peer_cells = [index[k] for p in peers if (k := (model, p, encoding, rows, conns)) in index]
            if not peer_cells:
                continue
            best = max(peer_cells, key=lambda r: r[metric])
            lowest_p99 = min(peer_cells, key=lambda r: r["p99_ms"])
            out.append(
                {
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
            )
    return out


# Aurora serving a model version without predictionBuckets: the same server with no prediction histogram.
WITHOUT_HISTOGRAM = "aurora-no-histogram"


def histogram_pairs(rounds: list[dict]) -> dict[tuple, list[tuple[dict, dict]]]:
    """(aurora, aurora-no-histogram) runs of the same cell in the same round, by model and cell."""
    runs = {(r["model"], r["server"], r["encoding"], r["rows"], r["connections"], r["round"]): r for r in rounds}
    pairs: dict[tuple, list[tuple[dict, dict]]] = {}
    for (model, server, encoding, rows, conns, round_), on in runs.items():
        off = runs.get((model, WITHOUT_HISTOGRAM, encoding, rows, conns, round_))
        if server == "aurora" and off and off["rps"]:
            pairs.setdefault((model, encoding, rows, conns), []).append((on, off))
    return pairs


def cpu_ratios(pairs: list[tuple[dict, dict]]) -> list[float]:
    return [
        on["cpu_us_per_request"] / off["cpu_us_per_request"]
        for on, off in pairs
        if on.get("cpu_us_per_request") and off.get("cpu_us_per_request")
    ]


def histogram_cost(pairs: dict[tuple, list[tuple[dict, dict]]]) -> list[dict]:
    """Aurora with its prediction histogram against itself without, per model and cell.

    A round's two runs of a cell make one pair; each figure is the median over the pairs, so a
    slow spell of the machine falls on both sides of the pairs it touches.
    """
    out = []
    for (model, encoding, rows, conns), cell in pairs.items():
        ratios = [on["rps"] / off["rps"] for on, off in cell]
        cpu_on = [on["cpu_us_per_request"] for on, _ in cell if on.get("cpu_us_per_request")]
        cpu_off = [off["cpu_us_per_request"] for _, off in cell if off.get("cpu_us_per_request")]
        cpu = cpu_ratios(cell)
        out.append(
            {
                "model": model,
                "encoding": encoding,
                "rows": rows,
                "connections": conns,
                "pairs": len(cell),
                "throughput_change": statistics.median(ratios) - 1,
                "throughput_change_min": min(ratios) - 1,
                "throughput_change_max": max(ratios) - 1,
                "cpu_us_on": statistics.median(cpu_on) if cpu_on else None,
                "cpu_us_off": statistics.median(cpu_off) if cpu_off else None,
                "cpu_change": statistics.median(cpu) - 1 if cpu else None,
            }
        )
    return sorted(out, key=lambda c: (c["model"], *cell_key(c)))


def overall_change(ratios: list[float]) -> tuple[float, float]:
    """Geometric mean change of paired ratios and the half-width of its 95 % interval (normal)."""
    logs = [math.log(r) for r in ratios]
    mean = statistics.fmean(logs)
    half = 1.96 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return math.exp(mean) - 1, half


def print_histogram_cost(rounds: list[dict], labels: dict) -> list[dict]:
    pairs = histogram_pairs(rounds)
    cost = histogram_cost(pairs)
    if not cost:
        return cost
    print(f"\nPrediction histogram cost: aurora against {WITHOUT_HISTOGRAM} (same server, same model, no")
    print("predictionBuckets), paired within each round; change < 0: the histogram costs throughput")
    rows = [
        [
            labels.get(c["model"], c["model"]),
            c["encoding"],
            str(c["rows"]),
            str(c["connections"]),
            str(c["pairs"]),
            f"{100 * c['throughput_change']:+.1f} %",
            f"{100 * c['throughput_change_min']:+.1f} .. {100 * c['throughput_change_max']:+.1f} %",
            fmt(c["cpu_us_off"]),
            fmt(c["cpu_us_on"]),
            "-" if c["cpu_change"] is None else f"{100 * c['cpu_change']:+.1f} %",
        ]
        for c in cost
    ]
    headers = ["model", "encoding", "rows/req", "conns", "pairs", "req/s change", "range"]
    print(table(headers + ["CPU us/req off", "on", "CPU change"], rows))
    every = [pair for cell in pairs.values() for pair in cell]
    change, half = overall_change([on["rps"] / off["rps"] for on, off in every])
    line = f"all {len(every)} pairs: throughput {100 * change:+.2f} % (95 % interval +/- {100 * half:.2f})"
    if cpu := cpu_ratios(every):
        change, half = overall_change(cpu)
        line += f"; server CPU per request {100 * change:+.2f} % (+/- {100 * half:.2f})"
    print(line)
    return cost


def cmd_report(args: argparse.Namespace) -> int:
    """Print a table per model and the Aurora-vs-best-peer ratios; write the JSON file."""
    run_dir = Path(args.run_dir)
    meta = json.loads((run_dir / "meta.json").read_text())
    servers = load_jsonl(run_dir / "servers.jsonl")
    rounds = load_jsonl(run_dir / "results.jsonl")
    results = sorted(median_over_rounds(rounds), key=cell_key)
    unsupported = load_jsonl(run_dir / "cells.jsonl")

    # Collapse per-model server records into one status per server and model.
    status = {}
    for s in servers:  # one record per round: a failure in any round stands
        key = (s["server"], s.get("model"))
        if key not in status or s["status"] != "ok":
            status[key] = s

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

    peers = [s for s in meta["server_order"] if s not in ("aurora", WITHOUT_HISTOGRAM)]
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
            )
        for name in meta["server_order"]:
            s = status.get((name, model))
            if s and s["status"] != "ok":
                rows.append([name, "-", "-", "-", "FAILED", "", "", "", "", "", ""])
        headers = ["server", "encoding", "rows/req", "conns", "req/s", "rows/s"]
        headers += ["p50 ms", "p99 ms", "CPU us/req", "non-2xx", "sock err"]
        print(table(headers, rows))
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

    comparison = compare(results, meta["models"], peers)
    print("\nAurora vs best peer (throughput ratio > 1: Aurora faster; p99 ratio < 1: Aurora lower)")
    crow = []
    for c in comparison:
        what = "req/s" if c["metric"] == "rps" else "rows/s"
        digits = 1 if c["metric"] == "rps" else 0
        crow.append(
            [
                meta["model_labels"].get(c["model"], c["model"]),
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
        )
    if crow:
        print(
            table(
                [
                    "model",
                    "encoding",
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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nResults JSON: {out}")
    return 0


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


CUT_OFF = "use of closed network connection"


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
    # Calls still in flight when ghz's duration ends fail on ghz's own closed connection:
    # the load tool's cut-off, not an answer from the server, so not counted as errors.
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


def cmd_record(args: argparse.Namespace) -> int:
    """Turn one wrk or ghz output file into a results.jsonl line."""
    read = ghz_result if args.tool == "ghz" else wrk_result
    result = read(Path(args.output))
    if result is None:
        print(f"no result in {args.output}")
        return 1
    entry = {
        "model": args.model,
        "server": args.server,
        "encoding": args.encoding,
        "rows": args.rows,
        "connections": args.connections,
        "round": args.round,
        **result,
        "rows_per_s": result["rps"] * args.rows,
        # CPU the server spent per request it answered, whatever the load tool's share of the cores.
        "cpu_us_per_request": args.cpu_seconds * 1e6 / result["requests"] if args.cpu_seconds else None,
    }
    with open(args.results, "a") as f:
        f.write(json.dumps(entry) + "\n")
    print(
        f"{entry['rps']:,.1f} req/s ({entry['rows_per_s']:,.0f} rows/s), p50 {entry['p50_ms']:.2f} ms, "
        f"p99 {entry['p99_ms']:.2f} ms, non-2xx {entry['non2xx']}, socket errors {entry['socket_errors']}"
    )
    return 0


def cmd_cell_failed(args: argparse.Namespace) -> int:
    """Append a cell a server could not serve (its check failed) to cells.jsonl."""
    entry = {"model": args.model, "server": args.server, "encoding": args.encoding, "rows": args.rows}
    with open(args.file, "a") as f:
        f.write(json.dumps({**entry, "reason": args.reason}) + "\n")
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
        "cells": args.cells,
        "rounds": args.rounds,
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

    p = sub.add_parser("grpc-body", help="a ghz body with model_name set")
    p.add_argument("body")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_grpc_body)

    p = sub.add_parser("grpc-check", help="one gRPC ModelInfer, checked (needs grpcio)")
    p.add_argument("address")
    p.add_argument("body")
    p.add_argument("--expected")
    p.set_defaults(func=cmd_grpc_check)

    p = sub.add_parser("cell-failed", help="record a cell a server could not serve")
    p.add_argument("file")
    p.add_argument("--model", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--encoding", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_cell_failed)

    p = sub.add_parser("record", help="wrk or ghz output -> results.jsonl")
    p.add_argument("output")
    p.add_argument("--tool", choices=["wrk", "ghz"], default="wrk")
    p.add_argument("--encoding", required=True, choices=ENCODINGS)
    p.add_argument("--round", type=int, default=1)
    p.add_argument("--results", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--cpu-seconds", type=float, default=0.0, help="the server's CPU time during the run")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("histogram-count", help="predictions counted by a server's prediction histogram")
    p.add_argument("url")
    p.set_defaults(func=cmd_histogram_count)

    p = sub.add_parser("group-cpu", help="CPU seconds of a process group so far")
    p.add_argument("pgid", type=int)
    p.set_defaults(func=cmd_group_cpu)

    p = sub.add_parser("without-histogram", help="copy a model version without predictionBuckets")
    p.add_argument("--model-root", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_without_histogram)

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
    p.add_argument("--cells", nargs="+", required=True)
    p.add_argument("--rounds", type=int, default=1)
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
