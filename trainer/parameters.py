"""The estimators' names and parameter names, as data, without importing scikit-learn.

The hook service checks a spec's estimator with this table; the trainer checks with it too
before building anything. A test keeps it equal to what scikit-learn's estimators accept.
"""

from __future__ import annotations

PARAMETERS: dict[str, frozenset[str]] = {
    "random_forest": frozenset(
        {
            "bootstrap",
            "ccp_alpha",
            "criterion",
            "max_depth",
            "max_features",
            "max_leaf_nodes",
            "max_samples",
            "min_impurity_decrease",
            "min_samples_leaf",
            "min_samples_split",
            "min_weight_fraction_leaf",
            "monotonic_cst",
            "n_estimators",
            "n_jobs",
            "oob_score",
            "random_state",
            "verbose",
            "warm_start",
        }
    ),
    "gradient_boosting": frozenset(
        {
            "alpha",
            "ccp_alpha",
            "criterion",
            "init",
            "learning_rate",
            "loss",
            "max_depth",
            "max_features",
            "max_leaf_nodes",
            "min_impurity_decrease",
            "min_samples_leaf",
            "min_samples_split",
            "min_weight_fraction_leaf",
            "n_estimators",
            "n_iter_no_change",
            "random_state",
            "subsample",
            "tol",
            "validation_fraction",
            "verbose",
            "warm_start",
        }
    ),
    "hist_gradient_boosting": frozenset(
        {
            "categorical_features",
            "early_stopping",
            "interaction_cst",
            "l2_regularization",
            "learning_rate",
            "loss",
            "max_bins",
            "max_depth",
            "max_features",
            "max_iter",
            "max_leaf_nodes",
            "min_samples_leaf",
            "monotonic_cst",
            "n_iter_no_change",
            "quantile",
            "random_state",
            "scoring",
            "tol",
            "validation_fraction",
            "verbose",
            "warm_start",
        }
    ),
    "ridge": frozenset({"alpha", "copy_X", "fit_intercept", "max_iter", "positive", "random_state", "solver", "tol"}),
    "linear_regression": frozenset({"copy_X", "fit_intercept", "n_jobs", "positive", "tol"}),
}


def parameter_errors(kind: str, params: dict) -> str:
    """Why `kind` with these parameter names cannot be built, or '' when it can."""
    if kind not in PARAMETERS:
        return f"unknown estimator {kind!r}; choose one of {', '.join(PARAMETERS)}"
    unknown = sorted(set(params) - PARAMETERS[kind])
    if unknown:
        accepted = ", ".join(sorted(PARAMETERS[kind]))
        return f"{kind} has no parameter {', '.join(map(repr, unknown))}; it accepts {accepted}"
    return ""
