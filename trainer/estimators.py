"""The estimators a user may ask for, and the checking of their parameters."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.utils._param_validation import InvalidParameterError

from trainer.errors import InputError
from trainer.parameters import parameter_errors

ESTIMATORS: dict[str, type[BaseEstimator]] = {
    "random_forest": RandomForestRegressor,
    "gradient_boosting": GradientBoostingRegressor,
    "hist_gradient_boosting": HistGradientBoostingRegressor,
    "ridge": Ridge,
    "linear_regression": LinearRegression,
}
# Estimators that take a seed get one from the run, so a run is reproducible.
SEEDED = {"random_forest", "gradient_boosting", "hist_gradient_boosting"}


def new_estimator(kind: str, params: dict, seed: int) -> BaseEstimator:
    """Build an unfitted estimator; unknown kinds, names or values raise InputError."""
    problem = parameter_errors(kind, params)
    if problem:
        raise InputError(problem)
    cls = ESTIMATORS[kind]
    if kind in SEEDED and "random_state" not in params:
        params = {**params, "random_state": seed}
    estimator = cls(**params)
    try:
        # scikit-learn checks values only at fit time; check now so bad values are input errors.
        estimator._validate_params()
    except InvalidParameterError as err:
        raise InputError(f"{kind}: {err}") from None
    return estimator
