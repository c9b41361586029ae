"""aurora-train: datasets, estimators, parameters, the quality gate, metadata and exit codes."""

from __future__ import annotations

import json
import os
import socket

import joblib
import pytest

from tests.support.models import MODEL, train
from trainer import store


def test_training_publishes_a_promoted_version_with_metrics(trained):
    root, model, version = trained
    model_store = store.ModelStore(root)
    assert model_store.latest(model) == version
    model_store.verify(model, version)
    estimator = joblib.load(model_store.version_dir(model, version) / "model.joblib")
    assert estimator.predict([[0.0] * 10]).shape == (1,)


def test_metadata_holds_every_field_of_the_contract(trained):
    root, model, version = trained
    metadata = store.ModelStore(root).read_metadata(model, version)
    for field in ("model", "version", "createdAt", "estimator", "dataset", "features", "metrics", "gate", "promoted"):
        assert field in metadata, field
    assert metadata["estimator"] == {"type": "ridge", "params": {}}
    assert metadata["dataset"]["name"] == "builtin:diabetes" and metadata["dataset"]["rows"] == 442
    assert len(metadata["dataset"]["sha256"]) == 64
    assert metadata["features"] == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert set(metadata["metrics"]) >= {"r2", "rmse", "mae"}
    assert metadata["python"].count(".") == 2 and metadata["sklearn"]
    assert metadata["promoted"] is True


def test_the_summary_on_stdout_reports_version_metrics_and_promotion(model_root):
    code, summary = train(model_root, MODEL, "--version", "v20261126-101500")
    assert code == 0
    assert summary["version"] == "v20261126-101500"
    assert summary["promoted"] is True and summary["gatePassed"] is True
    assert 0.2 < summary["metrics"]["r2"] < 0.7 and summary["metrics"]["rows"] == 442


@pytest.mark.parametrize(
    "estimator, params",
    [
        ("random_forest", {"n_estimators": 5}),
        ("gradient_boosting", {"n_estimators": 5}),
        ("hist_gradient_boosting", {"max_iter": 5}),
        ("ridge", {"alpha": 0.5}),
        ("linear_regression", {}),
    ],
)
def test_every_estimator_trains_with_its_parameters(model_root, estimator, params):
    code, summary = train(model_root, MODEL, "--params", json.dumps(params), estimator=estimator)
    assert code == 0, summary
    metadata = store.ModelStore(model_root).read_metadata(MODEL, summary["version"])
    assert metadata["estimator"] == {"type": estimator, "params": params}


def test_the_same_seed_gives_the_same_metrics_and_another_seed_does_not(model_root):
    runs = [
        train(model_root, MODEL, "--seed", seed, "--params", '{"n_estimators": 5}', estimator="random_forest")[1]
        for seed in ("7", "7", "8")
    ]
    assert runs[0]["metrics"]["r2"] == runs[1]["metrics"]["r2"] != runs[2]["metrics"]["r2"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--params", '{"n_trees": 10}'], "no parameter 'n_trees'"),
        (["--params", '{"alpha": "much"}'], "alpha"),
        (["--params", "{not json"], "not valid JSON"),
        (["--params", "[1, 2]"], "must be a JSON object"),
        (["--gate", "r2<=0.5"], "r2 must use >="),
        (["--gate", "accuracy>=0.5"], "unknown metric"),
        (["--gate", "r2 is good"], "expected METRIC"),
        (["--test-fraction", "1.5"], "between 0 and 1"),
        (["--version", "yesterday"], "vYYYYMMDD-HHMMSS"),
    ],
    ids=[
        "unknown-param",
        "bad-param-value",
        "params-not-json",
        "params-not-object",
        "gate-direction",
        "gate-metric",
        "gate-syntax",
        "test-fraction",
        "version-format",
    ],
)
def test_bad_input_exits_2_and_names_the_problem(model_root, args, message):
    code, summary = train(model_root, MODEL, *args)
    assert code == 2
    assert message in summary["error"]
    assert summary["reason"] == "InvalidInput"
    assert store.ModelStore(model_root).versions(MODEL) == []


def test_a_failed_gate_exits_3_publishes_unpromoted_and_says_why(trained):
    root, model, promoted = trained
    code, summary = train(root, model, "--gate", "r2>=0.99")
    assert code == 3
    assert summary["gatePassed"] is False and summary["promoted"] is False
    model_store = store.ModelStore(root)
    assert model_store.latest(model) == promoted
    metadata = model_store.read_metadata(model, summary["version"])
    assert metadata["gate"]["passed"] is False
    assert "r2" in metadata["gate"]["reason"] and "0.99" in metadata["gate"]["reason"]
    assert metadata["promoted"] is False


def test_a_passed_gate_promotes(model_root):
    code, summary = train(model_root, MODEL, "--gate", "rmse<=100")
    assert code == 0 and summary["promoted"] is True
    assert store.ModelStore(model_root).latest(MODEL) == summary["version"]


def test_no_promote_publishes_without_moving_latest(trained):
    root, model, promoted = trained
    code, summary = train(root, model, "--no-promote")
    assert code == 0 and summary["promoted"] is False
    assert store.ModelStore(root).latest(model) == promoted
    assert summary["version"] in store.ModelStore(root).versions(model)


def test_an_existing_explicit_version_is_refused_with_exit_2(trained):
    root, model, version = trained
    before = (store.ModelStore(root).version_dir(model, version) / "model.joblib").read_bytes()
    code, summary = train(root, model, "--version", version, estimator="linear_regression")
    assert code == 2 and "immutable" in summary["error"]
    assert (store.ModelStore(root).version_dir(model, version) / "model.joblib").read_bytes() == before


def write_csv(path, text):
    path.write_text(text)
    return f"csv:{path}:y"


def test_a_csv_dataset_trains_with_its_header_as_features(model_root, tmp_path):
    rows = "\n".join(f"{i},{i % 7},{2 * i + (i % 7) * 0.5}" for i in range(40))
    source = write_csv(tmp_path / "data.csv", "a,b,y\n" + rows + "\n")
    code, summary = train(model_root, MODEL, dataset=source, estimator="linear_regression")
    assert code == 0, summary
    metadata = store.ModelStore(model_root).read_metadata(MODEL, summary["version"])
    assert metadata["features"] == ["a", "b"]
    assert metadata["dataset"]["rows"] == 40 and summary["metrics"]["r2"] > 0.99


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,2\n3,4\n", "no target column 'y'"),
        ("a,y\n1,2\nx,4\n5,6\n", "line 3, column 'a': 'x' is not a number"),
        ("a,y\n1,2\n3\n", "line 3: 1 fields"),
        ("a,y\n1,nan\n3,4\n", "not finite"),
        ("", "is empty"),
    ],
    ids=["no-target", "not-a-number", "short-row", "nan", "empty"],
)
def test_a_bad_csv_exits_2_and_says_where(model_root, tmp_path, text, message):
    code, summary = train(model_root, MODEL, dataset=write_csv(tmp_path / "bad.csv", text))
    assert code == 2 and message in summary["error"]


def test_a_missing_csv_exits_2(model_root, tmp_path):
    code, summary = train(model_root, MODEL, dataset=f"csv:{tmp_path}/absent.csv:y")
    assert code == 2 and "cannot read CSV" in summary["error"]


def test_california_housing_offline_without_cache_exits_2_and_says_how_to_provide_it(model_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "empty-cache"))

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # The network is the boundary: name resolution fails as it does on an offline machine.
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    code, summary = train(model_root, MODEL, dataset="builtin:california-housing")
    assert code == 2
    assert "not in scikit-learn's cache" in summary["error"]
    assert "SCIKIT_LEARN_DATA" in summary["error"] and "csv:PATH:TARGET" in summary["error"]


def test_an_unknown_builtin_dataset_exits_2(model_root):
    code, summary = train(model_root, MODEL, dataset="builtin:iris")
    assert code == 2 and "unknown built-in dataset 'iris'" in summary["error"]


def test_the_termination_message_carries_the_summary(model_root, tmp_path, monkeypatch):
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setenv("AURORA_TERMINATION_LOG", str(log))
    code, summary = train(model_root, MODEL)
    message = json.loads(log.read_text())
    assert code == 0
    assert message["version"] == summary["version"] and message["metrics"]["r2"] == summary["metrics"]["r2"]
    assert len(log.read_bytes()) <= 4096


def test_the_termination_message_explains_bad_input(model_root, tmp_path, monkeypatch):
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setenv("AURORA_TERMINATION_LOG", str(log))
    code, _ = train(model_root, MODEL, "--params", '{"bogus": 1}')
    message = json.loads(log.read_text())
    assert code == 2 and message["exitCode"] == 2 and "bogus" in message["error"]


def test_a_retried_pod_finds_its_own_published_version_and_succeeds(model_root, monkeypatch):
    monkeypatch.setenv("AURORA_RUN_ID", "run-1")
    first = train(model_root, MODEL, "--version", "v20261126-101500")
    # The pod died after publishing; the Job starts it again with the same arguments.
    again = train(model_root, MODEL, "--version", "v20261126-101500")
    assert first[0] == again[0] == 0
    assert again[1]["version"] == "v20261126-101500" and again[1]["metrics"]["r2"] == first[1]["metrics"]["r2"]
    assert store.ModelStore(model_root).latest(MODEL) == "v20261126-101500"


def test_another_run_with_the_same_version_is_refused_before_training(model_root, monkeypatch):
    monkeypatch.setenv("AURORA_RUN_ID", "run-1")
    train(model_root, MODEL, "--version", "v20261126-101500")
    monkeypatch.setenv("AURORA_RUN_ID", "run-2")
    code, summary = train(model_root, MODEL, "--version", "v20261126-101500", "--dataset", "builtin:nothing")
    # The dataset is never read: the refusal comes first.
    assert code == 2 and "from another run" in summary["error"]


def test_a_csv_with_a_byte_order_mark_keeps_clean_column_names(model_root, tmp_path):
    rows = "\n".join(f"{i},{2 * i + 1}" for i in range(20))
    path = tmp_path / "bom.csv"
    path.write_bytes(("\ufeffx,y\n" + rows + "\n").encode("utf-8"))
    code, summary = train(model_root, MODEL, dataset=f"csv:{path}:y", estimator="linear_regression")
    assert code == 0
    assert store.ModelStore(model_root).read_metadata(MODEL, summary["version"])["features"] == ["x"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"a,a,y\n1,2,3\n4,5,6\n", "must be unique"),
        ("ä,y\n1,2\n3,4\n".encode("latin-1"), "not UTF-8"),
        (b"a,y\n1,2\n3,4\n5,1e200\n", "overflow"),
    ],
    ids=["duplicate-columns", "latin-1", "overflowing-target"],
)
def test_unusable_csv_files_exit_2(model_root, tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    code, summary = train(model_root, MODEL, dataset=f"csv:{path}:y", estimator="linear_regression")
    assert code == 2 and message in summary["error"]


def test_the_parameter_table_the_hooks_use_is_what_scikit_learn_accepts():
    from trainer.estimators import ESTIMATORS
    from trainer.parameters import PARAMETERS

    assert set(PARAMETERS) == set(ESTIMATORS)
    for kind, estimator in ESTIMATORS.items():
        assert PARAMETERS[kind] == set(estimator().get_params()), kind


def test_a_models_volume_this_user_cannot_write_fails_at_once_with_exit_2_and_says_who(model_root, monkeypatch):
    # What the real node found: a hostPath volume owned by root, the trainer running as 10001.
    import errno
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(model_root / MODEL / "versions"))

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refused)
    trained_at = []
    monkeypatch.setattr("trainer.cli.train", lambda *a, **k: trained_at.append(1))
    code, summary = train(model_root, MODEL)
    assert code == 2 and summary["reason"] == "StoreNotWritable" and trained_at == []
    assert f"not writable by uid {os.getuid()} gid {os.getgid()}" in summary["error"]
