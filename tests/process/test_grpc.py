"""The Open Inference Protocol over gRPC, with tritonclient's gRPC client against a real aurora-serve."""

from __future__ import annotations

import os
import signal
import threading

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as tritonclient_grpc
from tritonclient.utils import InferenceServerException

from tests.support.datasets import FEATURES, ROWS_100
from tests.support.paths import ROOT
from tests.support.servers import Server, free_port


def grpc_server(root, tmp, **env) -> tuple[Server, int]:
    port = free_port()
    return Server(root, tmp, "--grpc-bind", f"127.0.0.1:{port}", **env), port


@pytest.fixture(scope="module")
def both(served, tmp_path_factory):  # noqa: F811
    server, port = grpc_server(served[0], tmp_path_factory.mktemp("grpc"))
    client = tritonclient_grpc.InferenceServerClient(url=f"127.0.0.1:{port}")
    yield server, client
    client.close()
    server.stop()


def tensor(name: str, array: np.ndarray, datatype: str):
    value = tritonclient_grpc.InferInput(name, list(array.shape), datatype)
    value.set_data_from_numpy(array)
    return value


def test_health_and_metadata_over_grpc(both):
    _, client = both
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("diabetes")
    metadata = client.get_model_metadata("diabetes", as_json=True)
    assert metadata["inputs"][0]["shape"] == ["-1", "10"] and metadata["outputs"][0]["name"] == "predict"


@pytest.mark.parametrize("rows", [1, 100])
def test_grpc_infer_gets_the_models_predictions(both, served, rows):  # noqa: F811
    _, client = both
    result = client.infer("diabetes", [tensor("input-0", ROWS_100[:rows], "FP64")], request_id="g-1")
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(ROWS_100[:rows]))
    assert result.get_response().id == "g-1"


def test_grpc_takes_narrower_types_and_one_input_per_feature(both, served):  # noqa: F811
    _, client = both
    rows = ROWS_100.astype(np.float32)
    inputs = [tensor(name, rows[:, i].copy(), "FP32") for i, name in enumerate(FEATURES)]
    result = client.infer("diabetes", inputs)
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(rows.astype(np.float64)))


@pytest.mark.parametrize(
    "model, inputs, code, message",
    [
        ("housing", [("input-0", ROWS_100[:2], "FP64")], "NOT_FOUND", "not served here"),
        ("diabetes", [("input-0", ROWS_100[:2, :5].copy(), "FP64")], "INVALID_ARGUMENT", "expected one input"),
        ("diabetes", [("input-0", np.full((1, 10), np.nan), "FP64")], "INVALID_ARGUMENT", "NaN or infinite"),
    ],
    ids=["unknown-model", "too-few-features", "nan"],
)
def test_bad_grpc_requests_get_the_matching_status_and_a_reason(both, model, inputs, code, message):
    _, client = both
    with pytest.raises(InferenceServerException) as refused:
        client.infer(model, [tensor(*spec) for spec in inputs])
    assert code in refused.value.status() and message in refused.value.message()


def test_grpc_calls_are_counted_with_their_protocol(both):
    server, client = both
    client.infer("diabetes", [tensor("input-0", ROWS_100[:3], "FP64")])
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    lines = [line for line in text.splitlines() if line.startswith("aurora_inference_http_request_total{")]
    infer = [line for line in lines if 'protocol="grpc"' in line and 'method="ModelInfer"' in line]
    assert any('status="200"' in line and float(line.rsplit(" ", 1)[1]) >= 1 for line in infer), infer
    assert any('protocol="grpc"' in line and 'status="400"' in line for line in lines), lines


def test_sigterm_lets_the_grpc_call_in_flight_finish(served, tmp_path):  # noqa: F811
    server, port = grpc_server(served[0], tmp_path, AURORA_FAULT_LATENCY_SECONDS="1.5")
    channel_client = tritonclient_grpc.InferenceServerClient(url=f"127.0.0.1:{port}")
    result = {}

    def slow_call():
        result["answer"] = channel_client.infer("diabetes", [tensor("input-0", ROWS_100[:1], "FP64")])

    thread = threading.Thread(target=slow_call)
    thread.start()
    threading.Event().wait(0.5)
    os.killpg(server.process.pid, signal.SIGTERM)
    thread.join(timeout=20)
    assert "answer" in result and result["answer"].as_numpy("predict").shape == (1,)
    assert server.process.wait(timeout=40) == 0
    channel_client.close()
    # Nothing listens any more.
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(grpc.insecure_channel(f"127.0.0.1:{port}")).result(timeout=1)


def test_the_checked_in_grpc_code_is_what_the_proto_generates(tmp_path):

    from grpc_tools import protoc

    root = ROOT
    proto = "server/protos/open_inference.proto"
    out = tmp_path / "out"
    out.mkdir()
    args = ["protoc", f"-I{root}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", proto]
    assert protoc.main([*args[:-1], str(root / proto)]) == 0
    for name in ("open_inference_pb2.py", "open_inference_pb2.pyi", "open_inference_pb2_grpc.py"):
        generated = (out / "server" / "protos" / name).read_text()
        assert generated == (root / "server" / "protos" / name).read_text(), name
