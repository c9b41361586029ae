"""The served model: resolved, verified against its checksums, loaded once.

`load()` sets `ready`; nothing is ever served from a version whose files do not
match SHA256SUMS, because the model file is unpickled only after the check.
"""

from __future__ import annotations

import logging

import joblib
import numpy as np

from aurora_api.names import is_valid_version
from server.predictors import prepared_predict
from trainer import store

log = logging.getLogger("aurora.serve")


class ModelLoadError(Exception):
    """The configured model version cannot be served; the message says why."""


class ServedModel:
    def __init__(self, model_root: str, name: str, requested_version: str, buckets_from: str = ""):
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
        self.buckets_from = buckets_from
        # Bounds of the prediction histogram; empty for a model published without them.
        self.prediction_buckets: list[float] = []

    def load(self) -> None:
        """Resolve 'latest' once, verify checksums, unpickle and check the feature count."""
        try:
            self._load()
        except (store.StoreError, ModelLoadError) as err:
            self.reason = str(err)
            raise ModelLoadError(self.reason) from err
        except Exception as err:  # I/O errors on the shared volume, odd metadata: never served, always said
            self.reason = f"{self.name}/{self.requested_version} cannot be loaded: {type(err).__name__}: {err}"
            raise ModelLoadError(self.reason) from err
        self.ready, self.reason = True, "loaded"
        log.info("serving %s/%s (%s, %d features)", self.name, self.version, self.estimator_type, len(self.features))

    def _load(self) -> None:
        version = self.store.resolve(self.name, self.requested_version)
        self.store.verify(self.name, version)
        metadata = self.store.read_metadata(self.name, version)
        features = metadata.get("features") if isinstance(metadata, dict) else None
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise ModelLoadError(f"{self.name}/{version}: metadata.json lists no feature names")
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
        self.predict = prepared_predict(estimator, len(features))
        self.feature_index = {name: i for i, name in enumerate(features)}
        estimator_info = metadata.get("estimator") if isinstance(metadata.get("estimator"), dict) else {}
        self.estimator_type = str(estimator_info.get("type") or type(estimator).__name__)
        self.prediction_buckets = self._buckets(metadata)

    def _buckets(self, own: dict) -> list[float]:
        """The histogram bounds of `buckets_from`'s metadata when it has them, else this version's."""
        if self.buckets_from and is_valid_version(self.buckets_from):
            try:
                found = bounds_of(self.store.read_metadata(self.name, self.buckets_from))
            except (store.StoreError, OSError, ValueError) as err:
                log.warning("no prediction buckets from %s/%s: %s", self.name, self.buckets_from, err)
                found = []
            if found:
                return found
        return bounds_of(own)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predict for a checked float64 matrix; load() replaces this with the prepared predictor."""
        raise ModelLoadError("no model is loaded")


def bounds_of(metadata) -> list[float]:
    """Strictly increasing finite numbers, or nothing."""
    values = metadata.get("predictionBuckets") if isinstance(metadata, dict) else None
    if not isinstance(values, list) or not values:
        return []
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in values):
        return []
    return [float(v) for v in values] if all(a < b for a, b in zip(values, values[1:], strict=False)) else []
