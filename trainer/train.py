"""Fitting and evaluating one model: pure, no files, no clock."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

from trainer.datasets import Dataset
from trainer.errors import InputError


def train(dataset: Dataset, estimator: BaseEstimator, *, test_fraction: float, seed: int) -> tuple[BaseEstimator, dict]:
    """Split with the seed, fit on the train part, and measure r2, rmse and mae on the rest."""
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test fraction {test_fraction} must be between 0 and 1 (exclusive)")
    x_train, x_test, y_train, y_test = split(dataset, test_fraction, seed)
    try:
        estimator.fit(x_train, y_train)
    except ValueError as err:
        raise InputError(f"cannot fit {type(estimator).__name__} on {dataset.name}: {err}") from None
    metrics = evaluate(y_test, estimator.predict(x_test))
    if not all(math.isfinite(metrics[name]) for name in ("rmse", "mae")):
        raise InputError(f"{dataset.name}: the errors overflow (rmse {metrics['rmse']}); rescale the target")
    metrics.update(rows=dataset.rows, trainRows=len(y_train), testRows=len(y_test))
    return estimator, metrics


def split(dataset: Dataset, test_fraction: float, seed: int):
    test_rows = math.ceil(dataset.rows * test_fraction)
    if test_rows < 1 or dataset.rows - test_rows < 1:
        raise InputError(f"{dataset.name} has {dataset.rows} rows: too few for a test fraction of {test_fraction}")
    return train_test_split(dataset.features, dataset.target, test_size=test_fraction, random_state=seed)


def evaluate(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """r2, rmse and mae of predictions; r2 is NaN-free (0 when the test target is constant)."""
    r2 = r2_score(actual, predicted) if len(actual) > 1 else 0.0
    return {
        "r2": float(r2) if math.isfinite(r2) else 0.0,
        "rmse": float(math.sqrt(mean_squared_error(actual, predicted))),
        "mae": float(mean_absolute_error(actual, predicted)),
    }


# The quantiles of the training target that bound the prediction histogram (5 %, 10 %, ... 95 %).
PREDICTION_QUANTILES = tuple(q / 100 for q in range(5, 100, 5))


def prediction_buckets(target) -> list[float]:
    """Histogram bounds for this model's predictions: the training target's quantiles, so that
    a canary and the stable version are compared on one scale, the stable version's."""
    values = np.quantile(np.asarray(target, dtype=float), PREDICTION_QUANTILES)
    return sorted({float(f"{v:.6g}") for v in values if np.isfinite(v)})
