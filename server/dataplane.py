"""The data plane: everything the protocols share about the one model they serve.

Model lookup by name and version, readiness, metadata, the model headers and the error body,
fault injection, prediction on a float64 [rows, features] matrix, the check that every
prediction is a finite number, and the predicted-rows metric. The front-ends (Flask routes,
the fast lane, gRPC) and their codecs only translate bytes to these and back.
"""

from __future__ import annotations

import numpy as np

from server.errors import ModelNotReady, NotFound, Unprocessable
from server.faults import FaultInjector
from server.metrics import InferenceMetrics
from server.model import ServedModel
from server.v2 import OUTPUT


class DataPlane:
    def __init__(self, served: ServedModel, metrics: InferenceMetrics, faults: FaultInjector | None):
        self.served = served
        self.metrics = metrics
        self.faults = faults

    @property
    def features(self) -> list[str]:
        return self.served.features

    @property
    def name(self) -> str:
        return self.served.name

    @property
    def version(self) -> str:
        return self.served.version

    @property
    def ready(self) -> bool:
        return self.served.ready

    def headers(self) -> list[tuple[str, str]]:
        """The headers that name the model on every response."""
        return [("X-Model-Name", self.served.name), ("X-Model-Version", self.served.version or "unknown")]

    def error_body(self, message: str) -> dict:
        return {"error": message, "model": self.served.name, "version": self.served.version}

    def check_model(self, name: str, version: str | None) -> None:
        """The request names this server's model, and its version if it names one ('' or None: any)."""
        if name != self.served.name:
            raise NotFound(f"model {name!r} is not served here; this server serves {self.served.name!r}")
        if version and version != self.served.version:
            raise NotFound(f"version {version!r} is not served here; this server serves {self.served.version!r}")

    def metadata(self) -> dict:
        """The model's metadata in the Open Inference Protocol's terms (one FP64 input and output)."""
        return {
            "name": self.served.name,
            "versions": [self.served.version] if self.served.version else [],
            "platform": "sklearn",
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1, len(self.served.features)]}],
            "outputs": [{"name": OUTPUT, "datatype": "FP64", "shape": [-1]}],
            "parameters": {"features": self.served.features, "estimator": self.served.estimator_type},
        }

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
