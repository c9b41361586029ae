"""One checked request per cell before it is loaded: HTTP 200 (gRPC OK), N predictions, and
values equal to the reference (a mismatch is only a warning). Also the readiness poll and the
prediction histogram's count on /metrics.

Each check returns (code, reason): 0 passed, 3 value mismatch, anything else failed.
`python -m serving.checks grpc ADDRESS BODY --expected FILE` runs the gRPC check; it needs
grpcio and the served tree's generated stubs on the path.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

MISMATCH = 3


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


def wait_ready(url: str, timeout: float, is_alive, pid: int) -> str:
    """Poll URL until it answers 200; "" then, else why not (the server exited, or TIMEOUT passed)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not is_alive():
            return f"server process {pid} exited before it was ready ({last})"
        try:
            status, _ = http("GET", url, timeout=2.0)
            if status == 200:
                return ""
            last = f"HTTP {status}"
        except (OSError, urllib.error.URLError) as err:
            last = str(getattr(err, "reason", err))
        time.sleep(0.25)
    return f"not ready after {timeout:.0f}s ({last})"


def histogram_count(url: str) -> tuple[bool, str]:
    """How many predictions a server's /metrics histogram counted ("none": no histogram)."""
    status, payload = http("GET", url)
    if status != 200:
        return False, f"GET {url} answered {status}"
    counts = [
        float(line.rsplit(" ", 1)[1])
        for line in payload.decode().splitlines()
        if line.startswith("aurora_inference_prediction_count")
    ]
    return True, f"{sum(counts):.0f}" if counts else "none"


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


def compare_predictions(values: list[float], rows: int, expected_file: Path | None) -> tuple[int, str]:
    """0 when the answer has `rows` values equal to the reference; 3 on a value mismatch."""
    if len(values) != rows:
        return 1, f"expected {rows} predictions, got {len(values)}"
    if expected_file:
        expected = json.loads(Path(expected_file).read_text())[:rows]
        if len(expected) != rows:
            return 1, f"the reference has {len(expected)} predictions, fewer than {rows}"
        worst = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(values, expected, strict=True))
        if worst > 1e-6:
            return MISMATCH, f"predictions differ from the reference model (max rel. diff {worst:.3g})"
    return 0, ""


def check_http(url: str, path: Path, expected: Path) -> tuple[int, str]:
    """POST a body once; require 200, N predictions and the expected values.

    A body-N.bin is sent with the binary extension's headers (its JSON length from
    body-N.bin.len); the answer asked for is JSON either way.
    """
    body = path.read_bytes()
    header_length = int(Path(f"{path}.len").read_text()) if path.suffix == ".bin" else 0
    rows = json.loads(body[: header_length or None])["inputs"][0]["shape"][0]
    try:
        status, raw = http("POST", url, body, timeout=30.0, header_length=header_length)
    except (OSError, urllib.error.URLError) as err:
        return 1, f"request failed: {getattr(err, 'reason', err)}"
    if status != 200:
        return 1, f"HTTP {status}: {raw[:300].decode(errors='replace')}"
    try:
        values = predictions_of(json.loads(raw))
    except (ValueError, AttributeError) as err:
        return 1, f"unreadable response: {err}"
    return compare_predictions(values, rows, expected)


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


def check_grpc(address: str, body: Path, expected: Path) -> tuple[int, str]:
    """One ModelInfer call with a ghz body; require N predictions equal to the reference."""
    import grpc
    from google.protobuf import json_format

    from server.protos import open_inference_pb2 as pb
    from server.protos import open_inference_pb2_grpc as pb_grpc

    request = json_format.Parse(body.read_text(), pb.ModelInferRequest())
    rows = request.inputs[0].shape[0]
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
            response = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
        except (grpc.RpcError, grpc.FutureTimeoutError) as err:
            reason = err.details() if isinstance(err, grpc.RpcError) else "channel not ready in 10s"
            return 1, f"gRPC call failed: {reason}"
    if not response.outputs:
        return 1, "the response has no outputs"
    raw = response.raw_output_contents[0] if response.raw_output_contents else None
    try:
        values = output_values(response.outputs[0], raw)
    except ValueError as err:
        return 1, str(err)
    return compare_predictions(values, rows, expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.checks")
    parser.add_argument("job", choices=["grpc"])
    parser.add_argument("address")
    parser.add_argument("body", type=Path)
    parser.add_argument("--expected", type=Path)
    args = parser.parse_args(argv)
    code, reason = check_grpc(args.address, args.body, args.expected)
    if reason:
        print(reason)
    return code


if __name__ == "__main__":
    sys.exit(main())
