"""The Open Inference Protocol with the client people use: tritonclient over HTTP, JSON and binary.

A real aurora-serve under gunicorn answers; every result is compared with the model's own
predictions (the model file loaded from the store). Malformed binary bodies go through the
Flask test client and each gets a 400 naming the input, with nothing predicted.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as tritonclient_http

from server.app import create_app
from tests.support.datasets import FEATURES, ROWS, ROWS_100
from tests.support.servers import Server, config_for


@pytest.fixture(scope="module")
def http(served, tmp_path_factory):
    server = Server(served[0], tmp_path_factory.mktemp("serve"))
    client = tritonclient_http.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()
    server.stop()


def tensor(name: str, array: np.ndarray, datatype: str, binary: bool):
    value = tritonclient_http.InferInput(name, list(array.shape), datatype)
    value.set_data_from_numpy(array, binary_data=binary)
    return value


@pytest.mark.parametrize("binary_in", [True, False], ids=["binary-in", "json-in"])
@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
def test_tritonclient_gets_the_models_predictions(http, served, binary_in, binary_out):
    outputs = [tritonclient_http.InferRequestedOutput("predict", binary_data=binary_out)]
    inputs = [tensor("input-0", ROWS_100, "FP64", binary_in)]
    result = http.infer("diabetes", inputs, outputs=outputs, request_id="req-7")
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(ROWS_100))
    assert result.get_response()["id"] == "req-7"
    assert ("binary_data_size" in result.get_output("predict").get("parameters", {})) is binary_out


def test_tritonclients_default_path_is_binary_both_ways(http, served):
    result = http.infer("diabetes", [tensor("input-0", ROWS_100[:1], "FP64", True)])
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(ROWS_100[:1]))


@pytest.mark.parametrize("datatype, dtype", [("FP32", np.float32), ("FP16", np.float16), ("INT32", np.int32)])
def test_narrower_binary_datatypes_are_read_as_declared(http, served, datatype, dtype):
    rows = (ROWS_100 * 1000).astype(dtype) if datatype == "INT32" else ROWS_100.astype(dtype)
    result = http.infer("diabetes", [tensor("input-0", rows, datatype, True)])
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(rows.astype(np.float64)))


def test_one_input_per_feature_mixing_json_and_binary(http, served):
    inputs = [tensor(name, ROWS_100[:, i].copy(), "FP64", i % 2 == 0) for i, name in enumerate(FEATURES)]
    result = http.infer("diabetes", list(reversed(inputs)))
    assert np.array_equal(result.as_numpy("predict"), served[1].predict(ROWS_100))


# Malformed binary bodies, through the Flask test client


def binary_body(header: dict, *chunks: bytes) -> tuple[bytes, dict]:
    text = json.dumps(header).encode()
    return text + b"".join(chunks), {"Inference-Header-Content-Length": str(len(text))}


def binary_input(rows: np.ndarray, size: int | None = None, datatype: str = "FP64") -> dict:
    raw = rows.astype({"FP64": "<f8", "FP32": "<f4"}[datatype]).tobytes()
    parameters = {"binary_data_size": len(raw) if size is None else size}
    return {"name": "input-0", "shape": list(rows.shape), "datatype": datatype, "parameters": parameters}


ROWS_2 = np.array(ROWS)
RAW_2 = ROWS_2.astype("<f8").tobytes()
MALFORMED = [
    ("size-disagrees-with-shape", *binary_body({"inputs": [binary_input(ROWS_2, 8)]}, RAW_2[:8]), "does not match"),
    ("fewer-bytes-than-declared", *binary_body({"inputs": [binary_input(ROWS_2)]}, RAW_2[:40]), "only 40 bytes"),
    ("bytes-left-over", *binary_body({"inputs": [binary_input(ROWS_2)]}, RAW_2, b"\0" * 8), "8 bytes after"),
    (
        "nan-in-binary",
        *binary_body(
            {"inputs": [binary_input(ROWS_2, datatype="FP32")]},
            np.array([[np.nan] * 10, ROWS[1]], dtype="<f4").tobytes(),
        ),
        "NaN or infinite",
    ),
    (
        "data-and-binary",
        *binary_body({"inputs": [{**binary_input(ROWS_2), "data": ROWS}]}, RAW_2),
        "both data and parameters.binary_data_size",
    ),
    ("header-length-past-the-body", b'{"inputs": []}', {"Inference-Header-Content-Length": "999"}, "within the body"),
    ("header-length-not-a-number", b'{"inputs": []}', {"Inference-Header-Content-Length": "-1"}, "within the body"),
    (
        "unknown-output",
        *binary_body({"inputs": [binary_input(ROWS_2)], "outputs": [{"name": "proba"}]}, RAW_2),
        "unknown output 'proba'",
    ),
]


@pytest.mark.parametrize("body, headers, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_a_malformed_binary_request_gets_400_naming_the_problem_and_predicts_nothing(trained, body, headers, message):
    root, model, _ = trained
    app = create_app(config_for(root, model))
    client = app.test_client()
    response = client.post("/v2/models/diabetes/infer", data=body, headers=headers)
    assert response.status_code == 400 and message in response.get_json()["error"], response.get_json()
    metrics = client.get("/metrics").get_data(as_text=True).splitlines()
    (rows,) = [line for line in metrics if line.startswith("aurora_inference_predicted_rows_total{")]
    assert rows.endswith(" 0.0")


def test_a_binary_response_carries_the_json_length_and_raw_fp64(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model)).test_client()
    body, headers = binary_body(
        {"id": "x", "inputs": [binary_input(ROWS_2)], "parameters": {"binary_data_output": True}}, RAW_2
    )
    response = client.post("/v2/models/diabetes/infer", data=body, headers=headers)
    length = int(response.headers["Inference-Header-Content-Length"])
    header, raw = json.loads(response.data[:length]), response.data[length:]
    assert header["id"] == "x" and header["outputs"][0]["parameters"] == {"binary_data_size": 16}
    assert len(np.frombuffer(raw, dtype="<f8")) == 2
