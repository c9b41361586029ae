"""Load: the request bodies of every cell, and one bounded wrk (REST, with v2_infer.lua) or ghz
(gRPC) run against a server.

`python -m serving.load bodies DIR ROWS...` writes the bodies; it needs scikit-learn.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from serving.context import RunContext
from serving.settings import WRK_THREADS, Cell

FEATURES = 10
COMPACT = {"separators": (",", ":")}


def write_bodies(out: Path, row_counts: list[int]) -> int:
    """Write the first N diabetes rows as V2 requests, once per encoding.

    body-N.json: JSON tensor data; body-N.bin (+ body-N.bin.len, the JSON header's
    length): the binary tensor data extension; body-N.grpc.json: a gRPC
    ModelInferRequest in protobuf's JSON form, for ghz.
    """
    from sklearn.datasets import load_diabetes

    features = load_diabetes().data
    out.mkdir(parents=True, exist_ok=True)
    for rows in row_counts:
        if not 1 <= rows <= len(features):
            print(f"rows must be 1..{len(features)}, got {rows}", file=sys.stderr)
            return 2
        block = features[:rows].astype("<f8")
        tensor = {"name": "input-0", "shape": [rows, FEATURES], "datatype": "FP64"}
        values = [float(v) for v in block.reshape(-1)]
        (out / f"body-{rows}.json").write_text(json.dumps({"inputs": [{**tensor, "data": values}]}, **COMPACT))
        raw = block.tobytes()
        header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]}, **COMPACT)
        (out / f"body-{rows}.bin").write_bytes(header.encode() + raw)
        (out / f"body-{rows}.bin.len").write_text(str(len(header.encode())))
        grpc_tensor = {**tensor, "contents": {"fp64Contents": values}}
        (out / f"body-{rows}.grpc.json").write_text(json.dumps({"inputs": [grpc_tensor]}, **COMPACT))
    return 0


def write_grpc_body(body: Path, model: str, out: Path) -> None:
    """Copy body-N.grpc.json with model_name set: ghz sends the file as it is."""
    request = json.loads(body.read_text())
    out.write_text(json.dumps({"modelName": model, **request}, **COMPACT))


def body_of(run_dir: Path, cell: Cell, model: str) -> Path:
    """The request file a cell sends."""
    if cell.encoding == "grpc":
        return run_dir / f"body-{cell.rows}.grpc-{model}.json"
    suffix = "bin" if cell.encoding == "binary" else "json"
    return run_dir / f"body-{cell.rows}.{suffix}"


def tool_of(cell: Cell) -> str:
    return "ghz" if cell.encoding == "grpc" else "wrk"


@dataclass(frozen=True)
class LoadRun:
    """What one load run sends, how many connections it opens, and where."""

    cell: Cell
    body: Path
    connections: int
    url: str  # REST
    address: str  # gRPC


def ghz_command(ctx: RunContext, run: LoadRun, outfile: str, seconds: int) -> list[str]:
    # As many connections as wrk opens: each of the server's processes gets its share.
    proto = ctx.code_root / "server" / "protos" / "open_inference.proto"
    command = [ctx.ghz, "--insecure", "--proto", str(proto), "--call", "inference.GRPCInferenceService/ModelInfer"]
    command += ["-D", str(run.body), "-c", str(run.connections), "--connections", str(run.connections)]
    command += ["-z", f"{seconds}s", "-t", f"{ctx.settings.wrk_timeout}s", "--format", "json", "-o", outfile]
    return [*command, run.address]


def wrk_command(ctx: RunContext, run: LoadRun, seconds: int) -> list[str]:
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{run.connections}", f"-d{seconds}s", "--timeout"]
    command += [f"{ctx.settings.wrk_timeout}s", "--latency", "-s", str(ctx.bench_dir / "v2_infer.lua"), run.url]
    command += ["--", str(run.body)]
    if run.cell.encoding == "binary":
        command.append(Path(f"{run.body}.len").read_text().strip())
    return command


def run_load(ctx: RunContext, run: LoadRun, outfile: str, seconds: int) -> None:
    """One bounded load run (none for 0 s).

    wrk's output goes to OUTFILE; ghz writes OUTFILE itself and its own output to OUTFILE.log.
    """
    if seconds <= 0:
        return
    if run.cell.encoding == "grpc":
        logfile = outfile if outfile == "/dev/null" else f"{outfile}.log"
        ctx.groups.run_bounded(ghz_command(ctx, run, outfile, seconds), logfile, seconds)
    else:
        ctx.groups.run_bounded(wrk_command(ctx, run, seconds), outfile, seconds)


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "bodies":
        sys.exit("usage: python -m serving.load bodies DIR ROWS...")
    sys.exit(write_bodies(Path(sys.argv[2]), [int(n) for n in sys.argv[3:]]))
