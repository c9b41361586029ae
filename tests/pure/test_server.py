"""The inference server through Flask's test client: routes, validation, errors and metrics."""

from __future__ import annotations

import json
import random
import time

import joblib
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server import metrics, predictors
from server.app import create_app
from server.cli import main as serve_main
from server.config import ServerConfig
from server.errors import ConfigError
from server.faults import FaultInjector
from server.metrics import InferenceMetrics, bucket_counts
from server.predictors import prepared_predict
from tests.support.datasets import FEATURES, ROWS
from tests.support.models import train
from tests.support.servers import config_for
from trainer import store


@pytest.fixture
def client(trained):
    root, model, _ = trained
    return create_app(config_for(root, model)).test_client()


def expected_predictions(trained, rows):
    root, model, version = trained
    estimator = joblib.load(store.ModelStore(root).version_dir(model, version) / "model.joblib")
    return estimator.predict(np.array(rows)).tolist()


def v2_request(data, shape=None, datatype="FP64", **extra):
    tensor = {"name": "input-0", "shape": shape or [len(data), 10], "datatype": datatype, "data": data}
    return {"inputs": [tensor], **extra}


# Inference


def test_predict_returns_the_models_predictions_with_name_and_version(client, trained):
    response = client.post("/predict", json={"instances": ROWS})
    body = response.get_json()
    assert response.status_code == 200
    assert body["predictions"] == pytest.approx(expected_predictions(trained, ROWS))
    assert (body["model"], body["version"]) == ("diabetes", trained[2])
    assert response.headers["X-Model-Name"] == "diabetes"
    assert response.headers["X-Model-Version"] == trained[2]


def test_predict_accepts_rows_as_objects_keyed_by_feature_name(client, trained):
    objects = [dict(reversed(list(zip(FEATURES, row, strict=False)))) for row in ROWS]
    response = client.post("/predict", json={"instances": objects})
    assert response.status_code == 200
    assert response.get_json()["predictions"] == pytest.approx(expected_predictions(trained, ROWS))


@pytest.mark.parametrize(
    "data, datatype",
    [
        (ROWS, "FP64"),
        ([value for row in ROWS for value in row], "FP64"),
        (ROWS, "FP32"),
        ([[1, 0, 2, 1, 0, 0, 1, 0, 1, 0]] * 2, "INT64"),
        ([[1, 0, 2, 1, 0, 0, 1, 0, 1, 0]] * 2, "UINT8"),
    ],
    ids=["fp64-nested", "fp64-flat", "fp32", "int64", "uint8"],
)
def test_v2_infer_answers_one_fp64_tensor_per_request(client, trained, data, datatype):
    response = client.post(
        "/v2/models/diabetes/infer", json=v2_request(data, shape=[2, 10], datatype=datatype, id="r-1")
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["model_name"] == "diabetes" and body["model_version"] == trained[2] and body["id"] == "r-1"
    (output,) = body["outputs"]
    assert output["shape"] == [2] and output["datatype"] == "FP64" and len(output["data"]) == 2
    rows = np.array(data, dtype=np.float64).reshape(2, 10)
    if datatype == "FP32":
        rows = rows.astype(np.float32).astype(np.float64)
    assert output["data"] == pytest.approx(expected_predictions(trained, rows))


def test_v2_infer_by_version_path_serves_only_the_loaded_version(client, trained):
    ok = client.post(f"/v2/models/diabetes/versions/{trained[2]}/infer", json=v2_request(ROWS))
    other = client.post("/v2/models/diabetes/versions/v20200101-000000/infer", json=v2_request(ROWS))
    assert ok.status_code == 200 and other.status_code == 404
    assert "v20200101-000000" in other.get_json()["error"]


def test_an_unknown_model_name_is_404_naming_the_served_one(client):
    response = client.post("/v2/models/housing/infer", json=v2_request(ROWS))
    assert response.status_code == 404
    assert "'housing'" in response.get_json()["error"] and "'diabetes'" in response.get_json()["error"]


# Validation: a bad request gets 400 with a reason and never reaches the model

BAD_REQUESTS = [
    ("/predict", b"{not json", "not valid JSON"),
    ("/predict", [1, 2], "must be a JSON object"),
    ("/predict", {}, "instances: Missing data"),
    ("/predict", {"instances": []}, "non-empty list"),
    ("/predict", {"instances": ROWS, "extra": 1}, "extra: Unknown field"),
    ("/predict", {"instances": [ROWS[0][:9]]}, "expected 10 features, got 9"),
    ("/predict", {"instances": [ROWS[0] + [1.0]]}, "expected 10 features, got 11"),
    ("/predict", {"instances": [[*ROWS[0][:9], "1.5"]]}, "column 9: '1.5' is not a number"),
    ("/predict", {"instances": [[*ROWS[0][:9], True]]}, "column 9: True is not a number"),
    ("/predict", {"instances": [[*ROWS[0][:9], None]]}, "column 9: None is not a number"),
    ("/predict", b'{"instances": [[NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}', "not valid JSON"),
    ("/predict", b'{"instances": [[1e999, 0, 0, 0, 0, 0, 0, 0, 0, 0]]}', "number is infinity"),
    ("/predict", {"instances": [ROWS[0], "row"]}, "row 1: expected a list"),
    (
        "/predict",
        {"instances": [dict(zip(FEATURES, ROWS[0], strict=False)), ROWS[1]]},
        "all be objects or all be lists",
    ),
    ("/predict", {"instances": [{"age": 1, "height": 2}]}, "unknown features ['height']"),
    ("/v2/models/diabetes/infer", {}, "inputs: Missing data"),
    ("/v2/models/diabetes/infer", {"inputs": v2_request(ROWS)["inputs"] * 2}, "expected one input of shape [rows, 10]"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, shape=[3, 10]), "has 2 rows; shape [3, 10] says 3"),
    ("/v2/models/diabetes/infer", v2_request(ROWS[0] * 2, shape=[3, 10]), "needs 30 values, data has 20"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, shape=[2, 5, 2]), "must be [rows] or [rows, columns]"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, shape=[20]), "data has 2 rows; shape [20] says 20"),
    ("/v2/models/diabetes/infer", v2_request(ROWS[0] * 2, shape=[20]), "expected one input of shape [rows, 10]"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, datatype="BYTES"), "BYTES is not supported"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, datatype="FLOAT"), "datatype: Must be one of"),
    ("/v2/models/diabetes/infer", v2_request(ROWS, datatype="INT32"), "is not an integer"),
    ("/v2/models/diabetes/infer", v2_request([[300] * 10], datatype="INT8"), "does not fit int8"),
    ("/v2/models/diabetes/infer", v2_request([[1e39] * 10], datatype="FP32"), "NaN or infinite"),
    ("/v2/models/diabetes/infer", v2_request([["a"] * 10]), "'a' is not a number"),
    ("/v2/models/diabetes/infer", v2_request([[1] * 10, 5], shape=[2, 10]), "mixes nested lists"),
    (
        "/v2/models/diabetes/infer",
        {"inputs": [{"name": "x", "shape": ["2"], "datatype": "FP64", "data": []}]},
        "Not a valid integer",
    ),
]


@pytest.mark.parametrize("path, body, message", BAD_REQUESTS, ids=[m for _, _, m in BAD_REQUESTS])
def test_a_malformed_request_gets_400_naming_the_problem(client, path, body, message):
    if isinstance(body, bytes):
        response = client.post(path, data=body, content_type="application/json")
    else:
        response = client.post(path, json=body)
    assert response.status_code == 400, response.get_json()
    assert message in response.get_json()["error"]
    assert response.headers["X-Model-Name"] == "diabetes"


def test_too_many_rows_get_413(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, max_rows=3)).test_client()
    assert client.post("/predict", json={"instances": ROWS * 2}).status_code == 413
    response = client.post("/v2/models/diabetes/infer", json=v2_request(ROWS * 2))
    assert response.status_code == 413 and "limit is 3" in response.get_json()["error"]
    assert client.post("/predict", json={"instances": ROWS}).status_code == 200


def test_a_body_over_the_size_limit_gets_413_before_parsing(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, max_body_bytes=2048)).test_client()
    response = client.post("/predict", json={"instances": ROWS * 20})
    assert response.status_code == 413
    assert response.get_json()["error"]


# Readiness: a model that fails its checks is never served


@pytest.fixture
def corrupt_client(trained):
    root, model, version = trained
    (store.ModelStore(root).version_dir(model, version) / "model.joblib").write_bytes(b"not a pickle")
    return create_app(config_for(root, model)).test_client()


def test_a_corrupt_model_is_not_ready_and_predict_is_503(corrupt_client):
    ready = corrupt_client.get("/v2/health/ready")
    assert ready.status_code == 503 and "does not match its SHA256SUMS" in ready.get_json()["error"]
    assert corrupt_client.get("/v2/models/diabetes/ready").status_code == 503
    response = corrupt_client.post("/predict", json={"instances": ROWS})
    assert response.status_code == 503 and "not ready" in response.get_json()["error"]
    assert corrupt_client.get("/v2/health/live").status_code == 200


def test_a_missing_version_is_not_ready(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, version="v20200101-000000")).test_client()
    response = client.get("/v2/health/ready")
    assert response.status_code == 503 and "no version 'v20200101-000000'" in response.get_json()["error"]


def test_a_loaded_model_is_ready_and_live(client, trained):
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200 and ready.get_json() == {"ready": True, "model": "diabetes", "version": trained[2]}
    assert client.get("/v2/models/diabetes/ready").get_json() == {"name": "diabetes", "ready": True}


def test_latest_is_resolved_once_at_start_and_reported_as_the_concrete_version(trained):
    root, model, first = trained
    app = create_app(config_for(root, model, version="latest"))
    code, summary = train(root, model, "--version", "v20990101-000000")
    assert code == 0 and store.ModelStore(root).latest(model) == "v20990101-000000"
    response = app.test_client().post("/predict", json={"instances": ROWS})
    assert response.get_json()["version"] == first != "latest"


def test_model_metadata_describes_the_input_tensor(client, trained):
    body = client.get("/v2/models/diabetes").get_json()
    assert body["name"] == "diabetes" and body["versions"] == [trained[2]]
    assert body["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 10]}]
    assert body["parameters"]["features"] == FEATURES


# Metrics


def metric_lines(client) -> list[str]:
    text = client.get("/metrics").get_data(as_text=True)
    return [line for line in text.splitlines() if line.startswith("aurora_inference_")]


def sample(lines: list[str], name: str, **labels) -> float:
    """The value of the one sample of `name` whose labels include `labels`."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith(name + "{") and all(w in line for w in wanted)
    ]
    assert len(values) == 1, (name, labels, values)
    return values[0]


def test_every_inference_series_carries_model_version_and_track(client, trained):
    client.post("/predict", json={"instances": ROWS})
    client.post("/predict", json={"instances": []})
    text = client.get("/metrics").get_data(as_text=True)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(lines) > 20
    for line in lines:
        assert 'model="diabetes"' in line and f'model_version="{trained[2]}"' in line and 'track="stable"' in line


def test_metrics_count_requests_rows_errors_and_latency(client, trained):
    for _ in range(3):
        client.post("/predict", json={"instances": ROWS})
    client.post("/v2/models/diabetes/infer", json=v2_request(ROWS[:1]))
    client.post("/predict", json={"instances": [[1.0]]})
    lines = metric_lines(client)
    assert sample(lines, "aurora_inference_predicted_rows_total") == 7
    assert sample(lines, "aurora_inference_http_request_total", status="200") == 4
    assert sample(lines, "aurora_inference_http_request_total", status="400") == 1
    assert sample(lines, "aurora_inference_errors_total", reason="invalid_request") == 1
    assert sample(lines, "aurora_inference_http_request_duration_seconds_count", endpoint="predict", status="200") == 3
    assert sample(lines, "aurora_inference_http_request_duration_seconds_count", endpoint="v2_infer") == 1
    assert sample(lines, "aurora_inference_model_info", estimator="ridge") == 1


def test_probes_and_scrapes_are_not_counted_as_traffic(client):
    client.get("/v2/health/ready")
    client.get("/metrics")
    assert not [line for line in metric_lines(client) if "http_request_total" in line]


def test_the_canary_track_is_labelled_canary(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, track="canary")).test_client()
    client.post("/predict", json={"instances": ROWS})
    assert sample(metric_lines(client), "aurora_inference_predicted_rows_total", track="canary") == 2


def test_an_unready_model_reports_info_0(corrupt_client):
    assert sample(metric_lines(corrupt_client), "aurora_inference_model_info", model_version="unknown") == 0


# Fault injection


def test_injected_errors_answer_500_and_are_counted(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, fault_error_rate=1.0)).test_client()
    response = client.post("/predict", json={"instances": ROWS})
    assert response.status_code == 500 and "injected" in response.get_json()["error"]
    lines = metric_lines(client)
    assert sample(lines, "aurora_inference_errors_total", reason="fault_injected") == 1
    assert sample(lines, "aurora_inference_http_request_total", status="500") == 1


def test_fault_injection_fails_about_the_configured_fraction():
    config = config_for("/nowhere", "m", fault_error_rate=0.25, fault_latency_seconds=0.5, fault_latency_rate=0.5)
    slept = []
    injector = FaultInjector(config, rng=random.Random(1), sleep=slept.append)
    failures = 0
    for _ in range(2000):
        try:
            injector.apply()
        except Exception:
            failures += 1
    assert 400 < failures < 600
    assert 900 < len(slept) < 1100 and set(slept) == {0.5}


def test_faults_are_off_by_default():
    config = ServerConfig.from_env({"AURORA_MODEL_ROOT": "/m", "AURORA_MODEL": "m"})
    assert not config.faults_enabled and config.version == "latest" and config.track == "stable"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"AURORA_MODEL": "m"}, "AURORA_MODEL_ROOT is not set"),
        ({"AURORA_MODEL_ROOT": "/m"}, "AURORA_MODEL is not set"),
        ({"AURORA_MODEL_ROOT": "/m", "AURORA_MODEL": "m", "AURORA_TRACK": "blue"}, "AURORA_TRACK"),
        ({"AURORA_MODEL_ROOT": "/m", "AURORA_MODEL": "m", "AURORA_FAULT_ERROR_RATE": "2"}, "between 0 and 1"),
        ({"AURORA_MODEL_ROOT": "/m", "AURORA_MODEL": "m", "AURORA_MAX_ROWS": "many"}, "not a number"),
    ],
)
def test_bad_settings_are_refused_by_name(env, message):
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_env(env)


def test_every_track_the_mldeployment_hook_runs_is_accepted():
    from hooks.inference_objects import TRACKS

    for track in TRACKS:
        env = {"AURORA_MODEL_ROOT": "/m", "AURORA_MODEL": "m", "AURORA_TRACK": track}
        assert ServerConfig.from_env(env).track == track


# aurora-serve check (the init container)


def run_check(monkeypatch, capsys, root, model, version="latest") -> tuple[int, str]:
    for key, value in {"AURORA_MODEL_ROOT": str(root), "AURORA_MODEL": model, "AURORA_MODEL_VERSION": version}.items():
        monkeypatch.setenv(key, value)
    code = serve_main(["check"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_check_passes_a_good_version(trained, monkeypatch, capsys):
    root, model, version = trained
    code, output = run_check(monkeypatch, capsys, root, model)
    assert code == 0 and f"{model}/{version} OK" in output and "10 features" in output


def test_check_fails_a_tampered_version(trained, monkeypatch, capsys):
    root, model, version = trained
    (store.ModelStore(root).version_dir(model, version) / "model.joblib").write_bytes(b"tampered")
    code, output = run_check(monkeypatch, capsys, root, model, version)
    assert code == 1 and "NOT servable" in output and "SHA256SUMS" in output


def test_check_fails_when_metadata_and_model_disagree_on_features(trained, monkeypatch, capsys):
    root, model, version = trained
    folder = store.ModelStore(root).version_dir(model, version)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["features"] = metadata["features"][:9]
    (folder / "metadata.json").write_text(json.dumps(metadata))
    store.write_checksums(folder)
    code, output = run_check(monkeypatch, capsys, root, model, version)
    assert code == 1 and "takes 10 features, metadata lists 9" in output


def test_check_fails_when_nothing_is_promoted(model_root, monkeypatch, capsys):
    code, output = run_check(monkeypatch, capsys, model_root, "diabetes")
    assert code == 1 and "no promoted version" in output


def test_check_refuses_missing_settings(monkeypatch, capsys):
    monkeypatch.delenv("AURORA_MODEL_ROOT", raising=False)
    monkeypatch.setenv("AURORA_MODEL", "m")
    assert serve_main(["check"]) == 2
    assert "AURORA_MODEL_ROOT is not set" in capsys.readouterr().err


# Prepared predictors


def fit(model_root, name, estimator, params="{}"):
    code, summary = train(model_root, name, "--params", params, estimator=estimator)
    assert code == 0, summary
    return joblib.load(store.ModelStore(model_root).version_dir(name, summary["version"]) / "model.joblib")


def kind(predict) -> str:
    return predict.__qualname__.split(".")[0]


@pytest.mark.parametrize(
    "estimator, params, shortcut",
    [
        ("ridge", "{}", "linear"),
        ("linear_regression", "{}", "linear"),
        ("gradient_boosting", '{"n_estimators": 20}', "gradient_boosting"),
        ("gradient_boosting", '{"n_estimators": 20, "loss": "huber"}', "gradient_boosting"),
        ("gradient_boosting", '{"n_estimators": 20, "init": "zero"}', "checked_predict"),
        ("random_forest", '{"n_estimators": 3}', "checked_predict"),
        ("hist_gradient_boosting", '{"max_iter": 3}', "checked_predict"),
    ],
)
def test_prepared_predictors_give_scikit_learns_predictions(model_root, estimator, params, shortcut):
    model = fit(model_root, "m", estimator, params)
    predict = prepared_predict(model, 10)
    rows = np.random.default_rng(3).normal(size=(50, 10)) * 0.05
    assert kind(predict) == shortcut
    assert predict(rows) == pytest.approx(model.predict(rows), rel=1e-12)
    assert predict(rows[:1]) == pytest.approx(model.predict(rows[:1]), rel=1e-12)


def test_a_shortcut_that_disagrees_with_the_estimator_is_not_used(model_root, monkeypatch):
    model = fit(model_root, "m", "ridge")
    monkeypatch.setattr(predictors, "SHORTCUTS", (lambda estimator, width: lambda matrix: matrix[:, 0],))
    assert kind(predictors.prepared_predict(model, 10)) == "checked_predict"


def test_a_shortcut_that_fails_is_not_used(model_root, monkeypatch):
    model = fit(model_root, "m", "ridge")

    def broken(estimator, width):
        raise ImportError("kernel moved")

    monkeypatch.setattr(predictors, "SHORTCUTS", (broken,))
    assert kind(predictors.prepared_predict(model, 10)) == "checked_predict"


def test_checksummed_metadata_of_the_wrong_shape_is_not_ready_rather_than_a_crash(trained):
    root, model, version = trained
    folder = store.ModelStore(root).version_dir(model, version)
    (folder / "metadata.json").write_text(json.dumps(["not", "an", "object"]))
    store.write_checksums(folder)
    client = create_app(config_for(root, model)).test_client()
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503 and "lists no feature names" in ready.get_json()["error"]


def test_any_failure_while_loading_leaves_the_server_up_and_not_ready(trained, monkeypatch):
    root, model, _ = trained

    def broken(estimator, width):
        raise MemoryError("no room for the probe")

    monkeypatch.setattr("server.model.prepared_predict", broken)
    client = create_app(config_for(root, model)).test_client()
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 503 and "cannot be loaded: MemoryError" in ready.get_json()["error"]
    assert client.get("/v2/health/live").status_code == 200


def test_a_prediction_that_is_not_finite_gets_422(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model)).test_client()
    response = client.post("/predict", json={"instances": [[1e308] * 10]})
    assert response.status_code == 422 and "row 0" in response.get_json()["error"]


@pytest.mark.parametrize(
    "data, message",
    [
        ([[0.1] * 19, [0.2]], "different lengths"),
        ([[0.1] * 5] * 4, "has 4 rows"),
    ],
    ids=["ragged", "rows-disagree-with-shape"],
)
def test_nested_v2_data_must_match_its_shape(client, data, message):
    response = client.post("/v2/models/diabetes/infer", json=v2_request(data, shape=[2, 10]))
    assert response.status_code == 400 and message in response.get_json()["error"]


def test_the_inference_routes_refuse_other_methods_with_405(client):
    response = client.get("/v2/models/diabetes/infer")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert "use POST" in response.get_json()["error"] and response.headers["X-Model-Name"] == "diabetes"


def test_an_oversized_body_is_refused_before_it_is_read(trained):
    root, model, _ = trained
    client = create_app(config_for(root, model, max_body_bytes=2048)).test_client()
    response = client.post("/v2/models/diabetes/infer", data=b"x" * 4096, content_type="application/json")
    assert response.status_code == 413 and "limit is 2048" in response.get_json()["error"]


def test_a_batch_of_predictions_lands_in_the_histogram_as_one_observe_per_value_would():
    from flask import Flask
    from prometheus_client import generate_latest

    bounds = [10.0, 20.0, 30.0]
    values = np.array([5.0, 10.0, 10.5, 25.0, 31.0, 99.0])
    settings = {"model": "m", "version": "v1", "track": "canary", "estimator": "e", "multiprocess": False}
    settings["prediction_buckets"] = bounds
    ours = InferenceMetrics(Flask("a"), **settings)
    ours.observe_predictions(values[:1])  # one row, then a batch
    ours.observe_predictions(values[1:])
    ours.flush_predictions()
    theirs = InferenceMetrics(Flask("b"), **settings)
    for value in values:
        theirs.predictions.observe(value)
    series = [
        "\n".join(line for line in generate_latest(m.exporter.registry).decode().splitlines() if "_created" not in line)
        for m in (ours, theirs)
    ]
    assert series[0] == series[1]
    assert 'aurora_inference_prediction_bucket{le="10.0",model="m",model_version="v1",track="canary"} 2.0' in series[0]
    assert 'aurora_inference_prediction_bucket{le="+Inf",model="m",model_version="v1",track="canary"} 6.0' in series[0]


finite = st.floats(min_value=-1e6, max_value=1e6)


@given(st.lists(finite, max_size=300), st.lists(finite, min_size=1, max_size=25, unique=True))
def test_bucket_counts_put_each_value_where_prometheus_le_would(values, bounds):
    bounds = np.sort(np.array(bounds))
    values = np.array(values, dtype=float)
    expected = [
        sum(1 for v in values if (i == 0 or v > bounds[i - 1]) and (i == len(bounds) or v <= bounds[i]))
        for i in range(len(bounds) + 1)
    ]
    assert bucket_counts(values, bounds).tolist() == expected


def test_bucket_counts_are_whole_across_chunks(monkeypatch):
    monkeypatch.setattr(metrics, "COUNT_CHUNK", 7)
    values = np.arange(100, dtype=float)
    assert bucket_counts(values, np.array([9.0, 50.0])).tolist() == [10, 41, 49]


def test_a_failed_flush_drops_that_batch_and_the_flusher_carries_on(monkeypatch):
    from flask import Flask

    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 0.01)
    failures = iter([OSError("disk full")])

    def fail_once(values, bounds):
        # Other tests' servers flush in this process too: only ours fails.
        if bounds is ours.bounds and (error := next(failures, None)):
            raise error
        return bucket_counts(values, bounds)

    monkeypatch.setattr(metrics, "bucket_counts", fail_once)
    settings = {"model": "m", "version": "v1", "track": "stable", "estimator": "e", "multiprocess": False}
    ours = InferenceMetrics(Flask("a"), **settings, prediction_buckets=[1.0])
    ours.observe_predictions(np.array([0.5, 2.0]))  # the batch the failure drops
    deadline = time.monotonic() + 5
    while ours.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    ours.observe_predictions(np.array([0.5]))
    while ours.predictions._buckets[0].get() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ours.flusher.is_alive()
    assert [b.get() for b in ours.predictions._buckets] == [1.0, 0.0]
