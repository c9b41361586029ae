"""The served model: resolved, verified against its checksums, loaded once.

`load()` sets `ready`; nothing is ever served from a version whose files do not
match SHA256SUMS, because the model file is unpickled only after the check.
"""

from __future__ import annotations

import logging

import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LinearRegression, Ridge

from trainer import store

log = logging.getLogger("aurora.serve")
# Models whose prediction is exactly `X @ coef_ + intercept_` once the input is valid.
LINEAR = (LinearRegression, Ridge)


class ModelLoadError(Exception):
    """The configured model version cannot be served; the message says why."""


class ServedModel:
    def __init__(self, model_root: str, name: str, requested_version: str):
        self.store = store.ModelStore(model_root)
        self.name = name
        self.requested_version = requested_version
        self.version = ""
        self.ready = False
        self.reason = "not loaded yet"
        self.features: list[str] = []
        self.feature_index: dict[str, int] = {}
        self.estimator_type = ""
        self.estimator = None

    def load(self) -> None:
        """Resolve 'latest' once, verify checksums, unpickle and check the feature count."""
        try:
            self._load()
        except (store.StoreError, ModelLoadError) as err:
            self.reason = str(err)
            raise ModelLoadError(self.reason) from err
        self.ready, self.reason = True, "loaded"
        log.info("serving %s/%s (%s, %d features)", self.name, self.version, self.estimator_type, len(self.features))

    def _load(self) -> None:
        version = self.store.resolve(self.name, self.requested_version)
        self.store.verify(self.name, version)
        metadata = self.store.read_metadata(self.name, version)
        features = metadata.get("features")
        if not isinstance(features, list) or not features:
            raise ModelLoadError(f"{self.name}/{version}: metadata.json lists no features")
        path = self.store.version_dir(self.name, version) / store.MODEL_FILE
        try:
            estimator = joblib.load(path)
        except Exception as err:  # unpickling can fail in many ways; each means "not servable"
            raise ModelLoadError(f"{path} cannot be loaded: {type(err).__name__}: {err}") from err
        expected = getattr(estimator, "n_features_in_", None)
        if expected != len(features):
            raise ModelLoadError(
                f"{self.name}/{version}: the estimator takes {expected} features, metadata lists {len(features)}"
            )
        self.version, self.features, self.estimator = version, features, estimator
        self.predict = prepared_predict(estimator, len(features)) or self._predict
        self.feature_index = {name: i for i, name in enumerate(features)}
        self.estimator_type = metadata.get("estimator", {}).get("type", type(estimator).__name__)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predict for a finite float64 matrix the validation layer has already checked."""
        return self._predict(matrix)

    def _predict(self, matrix: np.ndarray) -> np.ndarray:
        # Inputs are checked for shape and finiteness before this point; skip the second check.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(self.estimator.predict(matrix), dtype=np.float64)


def prepared_predict(estimator, width: int):
    """For a single-target linear model, its prediction as one matrix product.

    scikit-learn re-validates the input on every predict call, which costs more than the
    product itself for one row. Our validation layer already guarantees a finite float64
    matrix of the right width, so the product is all that is left. The shortcut is used
    only if it agrees with the estimator's own predict on a probe matrix.
    """
    coef, intercept = getattr(estimator, "coef_", None), getattr(estimator, "intercept_", None)
    if not isinstance(estimator, LINEAR) or not isinstance(coef, np.ndarray) or coef.shape != (width,):
        return None
    coef, intercept = np.ascontiguousarray(coef, dtype=np.float64), float(np.ravel(intercept)[0])

    def linear(matrix: np.ndarray) -> np.ndarray:
        return matrix @ coef + intercept

    probe = np.random.default_rng(0).normal(size=(16, width))
    expected = np.asarray(estimator.predict(probe), dtype=np.float64)
    return linear if np.allclose(linear(probe), expected, rtol=1e-12, atol=1e-9) else None
