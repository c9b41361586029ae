"""The Open Inference Protocol with KServe's own REST client against a real aurora-serve.

KServe users call models with kserve.InferenceRESTClient; its V2 path sends binary tensors
whenever an input was set with binary_data=True. The client runs in a process of its own
(tests/support/kserve_client_run.py says why).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.support.datasets import ROWS_100
from tests.support.servers import Server


@pytest.fixture(scope="module")
def base_url(served, tmp_path_factory):  # noqa: F811
    server = Server(served[0], tmp_path_factory.mktemp("serve"))
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def kserve_infer(base_url: str, rows: np.ndarray, tmp_path, mode: str, *extra: str) -> dict:
    np.save(tmp_path / "rows.npy", rows)
    command = [
        sys.executable,
        "-m",
        "tests.support.kserve_client_run",
        base_url,
        str(tmp_path / "rows.npy"),
        mode,
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.gunicorn
@pytest.mark.parametrize("mode", ["binary", "json"], ids=["binary-in", "json-in"])
def test_kserves_rest_client_gets_the_models_predictions(base_url, served, tmp_path, mode):  # noqa: F811
    answer = kserve_infer(base_url, ROWS_100, tmp_path, mode)
    assert answer["id"] == "kserve-1"
    assert np.array_equal(np.asarray(answer["predictions"]), served[1].predict(ROWS_100))


@pytest.mark.gunicorn
def test_kserves_rest_client_reads_a_binary_response(base_url, served, tmp_path):  # noqa: F811
    answer = kserve_infer(base_url, ROWS_100[:3], tmp_path, "binary", "binary-out")
    assert answer["name"] == "predict"
    assert np.array_equal(np.asarray(answer["predictions"]), served[1].predict(ROWS_100[:3]))
    # The client decoded raw bytes after a JSON header of the announced length.
    headers = answer["headers"]
    assert int(headers["inference-header-content-length"]) < int(headers["content-length"])
