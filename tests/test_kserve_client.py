"""The Open Inference Protocol with KServe's own REST client against a real aurora-serve.

KServe users call models with kserve.InferenceRESTClient; its V2 path sends binary
tensors whenever an input was set with binary_data=True.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

from tests.test_gunicorn import Server
from tests.test_v2_protocol import ROWS_100, served, trained_module  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def base_url(served, tmp_path_factory):  # noqa: F811
    server = Server(served[0], tmp_path_factory.mktemp("serve"))
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def infer(base_url: str, request: InferRequest, headers: dict | None = None):
    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=10))
        try:
            return await client.infer(base_url, request, model_name="diabetes", response_headers=headers)
        finally:
            await client.close()

    return asyncio.run(call())


def request_for(rows: np.ndarray, binary: bool, **kwargs) -> InferRequest:
    value = InferInput("input-0", list(rows.shape), "FP64")
    value.set_data_from_numpy(rows, binary_data=binary)
    return InferRequest("diabetes", [value], request_id="kserve-1", **kwargs)


@pytest.mark.gunicorn
@pytest.mark.parametrize("binary", [True, False], ids=["binary-in", "json-in"])
def test_kserves_rest_client_gets_the_models_predictions(base_url, served, binary):  # noqa: F811
    response = infer(base_url, request_for(ROWS_100, binary))
    assert response.id == "kserve-1"
    assert np.array_equal(response.outputs[0].as_numpy(), served[1].predict(ROWS_100))


@pytest.mark.gunicorn
def test_kserves_rest_client_reads_a_binary_response(base_url, served):  # noqa: F811
    wanted = [RequestedOutput("predict", {"binary_data": True})]
    headers: dict = {}
    response = infer(base_url, request_for(ROWS_100[:3], True, request_outputs=wanted), headers)
    output = response.outputs[0]
    assert output.name == "predict"
    # The client decoded raw bytes after a JSON header of the announced length.
    assert int(headers["inference-header-content-length"]) < int(headers["content-length"])
    assert np.array_equal(output.as_numpy(), served[1].predict(ROWS_100[:3]))
