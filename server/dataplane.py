"""The data plane: what every protocol shares once its codec has decoded a request into a matrix.

Readiness, fault injection, prediction on a float64 [rows, features] matrix, the check that
every prediction is a finite number, and the predicted-rows metric. The codecs (JSON and
binary V2, /predict) only translate bytes to a matrix and predictions back.
"""

from __future__ import annotations

import numpy as np

from server.errors import ModelNotReady, Unprocessable
from server.faults import FaultInjector
from server.metrics import InferenceMetrics
from server.model import ServedModel


class DataPlane:
    def __init__(self, served: ServedModel, metrics: InferenceMetrics, faults: FaultInjector | None):
        self.served = served
        self.metrics = metrics
        self.faults = faults

    @property
    def features(self) -> list[str]:
        return self.served.features

    def require_ready(self) -> None:
        if not self.served.ready:
            raise ModelNotReady(f"model is not ready: {self.served.reason}")

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions for a validated matrix; a non-finite prediction is a 422, never an answer."""
        self.require_ready()
        if self.faults:
            self.faults.apply()
        predictions = self.served.predict(matrix)
        if not np.isfinite(predictions).all():
            row = int(np.argwhere(~np.isfinite(predictions))[0][0])
            raise Unprocessable(f"the model's prediction for row {row} is not a finite number; check the input's scale")
        self.metrics.rows.inc(len(predictions))
        self.metrics.observe_predictions(predictions)
        return predictions
