"""The inference server: `create_service()` serves one model version over HTTP (its Flask app)
and hands its data plane to the gRPC front-end; `create_app()` is the HTTP side alone.

Routes: POST /predict, the Open Inference Protocol (V2) REST routes, GET /metrics.
Each protocol's codec (server/v2.py for V2, the /predict schema) turns the request into a
matrix and the predictions back; everything between is the data plane (server/dataplane.py).
Every response names the model and version in the X-Model-Name / X-Model-Version
headers, and JSON bodies carry them too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from server.config import ServerConfig
from server.dataplane import DataPlane
from server.errors import AppError
from server.fastlane import FastLane
from server.faults import FaultInjector
from server.metrics import InferenceMetrics
from server.model import ModelLoadError, ServedModel

log = logging.getLogger("aurora.serve")
JSON = "application/json"


def load_model(config: ServerConfig) -> ServedModel:
    """Load the configured version; on failure keep serving probes, never predictions."""
    served = ServedModel(config.model_root, config.model, config.version, config.prediction_buckets_from)
    try:
        served.load()
    except ModelLoadError as err:
        log.error("model %s/%s is not servable: %s", config.model, config.version, err)
    return served


@dataclass(frozen=True)
class InferenceService:
    """One model version's data plane and the HTTP app over it; gRPC serves the same plane."""

    app: Flask
    plane: DataPlane
    max_rows: int
    max_message: int  # bytes, for a request body and a gRPC message alike


def create_app(config: ServerConfig | None = None, *, served: ServedModel | None = None) -> Flask:
    return create_service(config, served=served).app


def create_service(config: ServerConfig | None = None, *, served: ServedModel | None = None) -> InferenceService:
    """Build the service for one model version (loaded here unless `served` is given)."""
    config = config or ServerConfig.from_env(os.environ)
    served = served or load_model(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    metrics = InferenceMetrics(
        app,
        model=served.name,
        version=served.version or "unknown",
        track=config.track,
        estimator=served.estimator_type or "unknown",
        multiprocess="PROMETHEUS_MULTIPROC_DIR" in os.environ,
        prediction_buckets=served.prediction_buckets,
    )
    metrics.set_ready(served.ready)
    faults = FaultInjector(config) if config.faults_enabled else None
    if faults:
        log.warning(
            "fault injection is ON: error rate %s, latency %ss", config.fault_error_rate, config.fault_latency_seconds
        )
    plane = DataPlane(served, metrics, faults)
    Routes(plane).register(app)
    # The inference routes bypass Flask's per-request machinery (server/fastlane.py).
    app.wsgi_app = FastLane(app.wsgi_app, plane, config.max_rows, config.max_body_bytes)
    return InferenceService(app, plane, config.max_rows, config.max_body_bytes)


def json_response(body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status=status, mimetype=JSON)


class Routes:
    """Health, metadata and errors, bound to one served model (inference is the fast lane's)."""

    def __init__(self, plane: DataPlane):
        self.plane = plane
        self.served = plane.served
        self.metrics = plane.metrics
        self.headers = dict(plane.headers())

    def register(self, app: Flask) -> None:
        app.add_url_rule("/v2", view_func=self.server_metadata)
        app.add_url_rule("/v2/health/live", view_func=self.live)
        app.add_url_rule("/v2/health/ready", view_func=self.ready)
        # The endpoint name is the `endpoint` label of the request metrics.
        for prefix, suffix in (("/v2/models/<name>", ""), ("/v2/models/<name>/versions/<version>", "_version")):
            app.add_url_rule(prefix, view_func=self.model_metadata, endpoint=f"v2_metadata{suffix}")
            app.add_url_rule(f"{prefix}/ready", view_func=self.model_ready, endpoint=f"v2_model_ready{suffix}")
        app.register_error_handler(AppError, self.app_error)
        app.register_error_handler(HTTPException, self.http_error)
        app.register_error_handler(Exception, self.unexpected_error)
        app.after_request(self.add_headers)

    # Health and metadata

    def live(self):
        return json_response({"live": True})

    def ready(self):
        body = {"ready": self.served.ready, "model": self.served.name, "version": self.served.version}
        if not self.served.ready:
            body["error"] = self.served.reason
        return json_response(body, 200 if self.served.ready else 503)

    def model_ready(self, name: str, version: str | None = None):
        self.plane.check_model(name, version)
        return json_response({"name": name, "ready": self.served.ready}, 200 if self.served.ready else 503)

    def server_metadata(self):
        return json_response({"name": "aurora", "version": "v2", "extensions": []})

    def model_metadata(self, name: str, version: str | None = None):
        self.plane.check_model(name, version)
        return json_response(self.plane.metadata())

    # Errors and headers

    def app_error(self, err: AppError):
        self.metrics.count_error(err.reason)
        return self.error_response(err.message, err.status)

    def http_error(self, err: HTTPException):
        self.metrics.count_error("too_large" if err.code == 413 else "http")
        return self.error_response(err.description or err.name, err.code or 500)

    def unexpected_error(self, err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        self.metrics.count_error("internal")
        return self.error_response("internal error", 500)

    def error_response(self, message: str, status: int) -> Response:
        return json_response(self.plane.error_body(message), status)

    def add_headers(self, response: Response) -> Response:
        response.headers.update(self.headers)
        return response
