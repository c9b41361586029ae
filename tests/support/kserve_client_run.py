"""Runs KServe's InferenceRESTClient in a process of its own, for tests/process/test_kserve_client.py.

kserve registers the Open Inference Protocol's gRPC messages (package `inference`) in
protobuf's default pool at import, as Aurora's own server.protos does: the two cannot be
imported into one process. Usage: python -m tests.support.kserve_client_run URL ROWS.npy binary|json [binary-out]
Prints {"id", "predictions", "headers"} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput


async def infer(url: str, rows: np.ndarray, binary: bool, binary_out: bool) -> dict:
    value = InferInput("input-0", list(rows.shape), "FP64")
    value.set_data_from_numpy(rows, binary_data=binary)
    outputs = [RequestedOutput("predict", {"binary_data": True})] if binary_out else None
    request = InferRequest("diabetes", [value], request_id="kserve-1", request_outputs=outputs)
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=10))
    headers: dict = {}
    try:
        response = await client.infer(url, request, model_name="diabetes", response_headers=headers)
    finally:
        await client.close()
    predictions = response.outputs[0].as_numpy().tolist()
    return {"id": response.id, "name": response.outputs[0].name, "predictions": predictions, "headers": dict(headers)}


def main() -> None:
    url, rows_file, mode, *rest = sys.argv[1:]
    rows = np.load(rows_file)
    print(json.dumps(asyncio.run(infer(url, rows, mode == "binary", rest == ["binary-out"]))))


if __name__ == "__main__":
    main()
