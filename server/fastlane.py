"""The fast lane: the inference routes answered at the WSGI level, in front of Flask.

POST /predict and POST /v2/models/<model>[/versions/<v>]/infer carry all the traffic, and
Flask's per-request machinery (request context, URL matching, hooks) cost more than the
prediction itself on small requests. Here they go straight from the body to their codec and
the data plane, with the same checks, errors, headers and metrics as every other route;
every other path is Flask's.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from timeit import default_timer

import orjson
from marshmallow import ValidationError

from server import v2, validation
from server.dataplane import DataPlane
from server.errors import AppError, InvalidRequest, PayloadTooLarge

log = logging.getLogger("aurora.serve")
INFER = re.compile(r"^/v2/models/([^/]+)(/versions/([^/]+))?/infer$")
JSON = "application/json"


def status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


class FastLane:
    def __init__(self, flask_wsgi, plane: DataPlane, max_rows: int, max_body: int):
        self.flask_wsgi = flask_wsgi
        self.plane = plane
        self.served = plane.served
        self.max_rows = max_rows
        self.max_body = max_body
        self.predict_schema = validation.predict_schema(self.served.features, max_rows)
        self.model_headers = plane.headers()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/predict":
            return self.answer(environ, start_response, "predict", lambda body: self.predict(body))
        match = INFER.match(path)
        if match:
            endpoint = "v2_infer_version" if match.group(2) else "v2_infer"
            name, version = match.group(1), match.group(3)
            return self.answer(environ, start_response, endpoint, lambda body: self.infer(body, environ, name, version))
        return self.flask_wsgi(environ, start_response)

    def answer(self, environ, start_response, endpoint: str, handle):
        """One request: its body through `handle`, errors as JSON, counted and timed like any other."""
        started = default_timer()
        method = environ["REQUEST_METHOD"]
        try:
            if method != "POST":
                payload, headers, status = self.not_allowed()
            else:
                payload, headers, status = (*handle(self.read_body(environ)), 200)
        except AppError as err:
            self.plane.metrics.count_error(err.reason)
            payload, headers, status = self.error(err.message, err.status)
        except Exception:
            log.exception("unexpected error on %s %s", method, environ.get("PATH_INFO"))
            self.plane.metrics.count_error("internal")
            payload, headers, status = self.error("internal error", 500)
        self.plane.metrics.record("http", method, endpoint, status, default_timer() - started)
        headers = [*headers, ("Content-Length", str(len(payload))), *self.model_headers]
        start_response(status_line(status), headers)
        return [payload]

    def read_body(self, environ) -> bytes:
        declared = environ.get("CONTENT_LENGTH")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {self.max_body}")
        body = environ["wsgi.input"].read(int(declared) if declared and declared.isdigit() else self.max_body + 1)
        if len(body) > self.max_body:
            raise PayloadTooLarge(f"the body is over the limit of {self.max_body} bytes")
        return body

    def predict(self, body: bytes) -> tuple[bytes, list]:
        """POST /predict: {"instances": rows} -> {"predictions", "model", "version"}."""
        self.plane.require_ready()
        try:
            matrix = self.predict_schema.load(v2.parse_json(body))["instances"]
        except ValidationError as err:
            raise InvalidRequest(validation.error_message(err.messages)) from None
        predictions = self.plane.predict(matrix)
        answer = {"predictions": predictions, "model": self.served.name, "version": self.served.version}
        return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), [("Content-Type", JSON)]

    def infer(self, body: bytes, environ, name: str, version: str | None) -> tuple[bytes, list]:
        """POST /v2/models/<name>/infer: JSON and binary tensors in, one FP64 output `predict` back."""
        self.plane.check_model(name, version)
        self.plane.require_ready()
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        decoded = v2.decode(body, header_length, self.served.features, self.max_rows)
        predictions = self.plane.predict(decoded.matrix)
        payload, headers = v2.encode(decoded, predictions, self.served.name, self.served.version)
        return payload, list(headers.items())

    def not_allowed(self) -> tuple[bytes, list, int]:
        payload, headers, _ = self.error("the method is not allowed for this route; use POST", 405)
        return payload, [*headers, ("Allow", "POST")], 405

    def error(self, message: str, status: int) -> tuple[bytes, list, int]:
        return orjson.dumps(self.plane.error_body(message)), [("Content-Type", JSON)], status
