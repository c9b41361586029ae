"""Prepared predictors: a model's prediction with scikit-learn's per-call overhead done once.

scikit-learn validates its input on every predict call (dtype, shape, finiteness,
dataframe detection). For one row that costs several times the arithmetic itself.
The server validates requests already (server/validation.py), so for the estimators
below the arithmetic is all that is left. Each shortcut is used only if it gives the
same predictions as the estimator's own predict on a probe matrix at load time;
otherwise, and for every other estimator, the estimator's predict is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, Ridge

log = logging.getLogger("aurora.serve")
Predict = Callable[[np.ndarray], np.ndarray]


def checked_predict(estimator) -> Predict:
    """The estimator's own predict, with the checks our validation already made switched off."""

    def predict(matrix: np.ndarray) -> np.ndarray:
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(estimator.predict(matrix), dtype=np.float64)

    return predict


def linear(estimator, width: int) -> Predict | None:
    """Ridge and LinearRegression with one target: X @ coef_ + intercept_."""
    coef = getattr(estimator, "coef_", None)
    if not isinstance(estimator, (LinearRegression, Ridge)) or np.shape(coef) != (width,):
        return None
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    intercept = float(np.ravel(estimator.intercept_)[0])
    return lambda matrix: matrix @ coef + intercept


def gradient_boosting(estimator, width: int) -> Predict | None:
    """GradientBoostingRegressor with a constant initial estimator: its Cython kernel over the stages."""
    if not isinstance(estimator, GradientBoostingRegressor) or not isinstance(estimator.init_, DummyRegressor):
        return None
    # A private kernel: if a scikit-learn release moves it, the estimator's predict is used.
    from sklearn.ensemble._gradient_boosting import predict_stages

    start = np.asarray(estimator.init_.constant_, dtype=np.float64).reshape(1, -1)
    stages, rate = estimator.estimators_, estimator.learning_rate

    def predict(matrix: np.ndarray) -> np.ndarray:
        raw = np.repeat(start, matrix.shape[0], axis=0)
        predict_stages(stages, np.asarray(matrix, dtype=np.float32), rate, raw)
        return raw.ravel()

    return predict


SHORTCUTS = (linear, gradient_boosting)


def prepared_predict(estimator, width: int) -> Predict:
    """The fastest predict that agrees with the estimator's own on a probe matrix."""
    reference = checked_predict(estimator)
    probe = np.random.default_rng(0).normal(size=(16, width))
    expected = reference(probe)
    for shortcut in SHORTCUTS:
        try:
            fast = shortcut(estimator, width)
            if fast is not None and np.allclose(fast(probe), expected, rtol=1e-12, atol=1e-9):
                log.info("predicting with the %s shortcut", shortcut.__name__)
                return fast
        except Exception as err:  # any failure of a shortcut only means: use the estimator's predict
            log.warning("the %s shortcut is unavailable: %s", shortcut.__name__, err)
    return reference
