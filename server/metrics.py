"""Every metric of the inference server, defined once, each labelled model, model_version and track.

Requests are counted and timed here for every protocol (`aurora_inference_http_request_total`
and `..._duration_seconds`, label `protocol`: http or grpc). A gRPC call is counted with the
HTTP status its code stands for (OK 200, INVALID_ARGUMENT 400, NOT_FOUND 404, ...), so canary
analysis, alerts and dashboards judge both protocols on one scale. prometheus-flask-exporter
serves /metrics; under gunicorn the series live in prometheus_client's multiprocess files, so
/metrics on any worker reports the sum over all workers.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from timeit import default_timer

import numpy as np
from flask import Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

PREFIX = "aurora_inference"
# Fine below 100 ms where inference lives, and around the 0.5 s latency threshold of canary analysis.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Predictions gather per process and reach the shared histogram this often.
FLUSH_SECONDS = 0.5
# Probes and scrapes are not traffic: keep them out of error rates and latency.
EXCLUDED = re.compile(r"^/metrics$|^/v2/health/")

log = logging.getLogger("aurora.serve")


def labelled_only(exporter: type[PrometheusMetrics]) -> type[PrometheusMetrics]:
    """The exporter without its own version series, the one series that would lack model labels."""

    class Exporter(exporter):
        def info(self, name, description, labelnames=None, labelvalues=None, **labels):
            if name == f"{PREFIX}_exporter_info":
                return None
            return super().info(name, description, labelnames, labelvalues, **labels)

    return Exporter


# Values compared with the bounds at a time: small enough to stay in a core's cache.
COUNT_CHUNK = 32768


def bucket_counts(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """How many values fall in each histogram bucket (v <= bound, non-cumulative, +Inf last).

    One vectorised comparison per bound counts the values at or below it: several times faster
    than a binary search per value (np.searchsorted) for the twenty-odd bounds a model has.
    """
    at_or_below = np.zeros(len(bounds), dtype=np.int64)
    for start in range(0, len(values), COUNT_CHUNK):
        chunk = values[start : start + COUNT_CHUNK]
        at_or_below += [np.count_nonzero(chunk <= bound) for bound in bounds]
    return np.diff(at_or_below, prepend=0, append=len(values))


class InferenceMetrics:
    """Requests by protocol, predicted rows, errors by reason and model info."""

    def __init__(
        self,
        app: Flask,
        *,
        model: str,
        version: str,
        track: str,
        estimator: str,
        multiprocess: bool,
        prediction_buckets: list[float] | None = None,
    ):
        labels = {"model": model, "model_version": version, "track": track}
        registry = CollectorRegistry()
        exporter = labelled_only(GunicornInternalPrometheusMetrics if multiprocess else PrometheusMetrics)
        # The exporter only serves /metrics; the request series are ours, shared by every protocol.
        self.exporter = exporter(app, registry=registry, export_defaults=False, defaults_prefix=PREFIX)
        self.labels = labels
        self.define_request_series(registry, tuple(labels))
        self.predictions = self.prediction_histogram(registry, prediction_buckets) if prediction_buckets else None
        self.estimator = estimator
        self.track_flask(app)

    def define_request_series(self, registry: CollectorRegistry, names: tuple[str, ...]) -> None:
        """The series of every protocol: requests, latency, predicted rows, errors, model info."""
        self.requests = Counter(
            f"{PREFIX}_http_request_total",
            "Requests answered, by protocol, method and status",
            ("method", "status", *names, "protocol"),
            registry=registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer a request, by protocol, endpoint, method and status",
            ("method", "endpoint", "status", *names, "protocol"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        rows = Counter(f"{PREFIX}_predicted_rows_total", "Rows predicted", names, registry=registry)
        self.rows = rows.labels(**self.labels)
        self.errors = Counter(
            f"{PREFIX}_errors_total",
            "Requests answered with an error, by reason",
            (*names, "reason"),
            registry=registry,
        )
        self.info = Gauge(
            f"{PREFIX}_model_info",
            "1 while this model version is loaded and verified",
            (*names, "estimator"),
            registry=registry,
            multiprocess_mode="max",
        )

    def prediction_histogram(self, registry: CollectorRegistry, buckets: list[float]):
        """The predicted values' histogram, filled in batches by a flusher thread per worker."""
        self.bounds = np.asarray(buckets, dtype=float)
        self.pending: list[np.ndarray] = []
        self.pending_lock = threading.Lock()
        # The app is loaded before gunicorn forks and threads do not survive a fork: each
        # worker starts its own flusher with its first predictions.
        self.flusher: threading.Thread | None = None
        os.register_at_fork(after_in_child=self.forget_flusher)
        histogram = Histogram(
            f"{PREFIX}_prediction",
            "Predicted values, on the bounds of the stable version's training target quantiles",
            tuple(self.labels),
            buckets=buckets,
            registry=registry,
        )
        return histogram.labels(**self.labels)

    def record(self, protocol: str, method: str, endpoint: str, status: int, seconds: float) -> None:
        """One answered request, whatever its protocol."""
        self.requests.labels(method, status, *self.labels.values(), protocol).inc()
        self.latency.labels(method, endpoint, status, *self.labels.values(), protocol).observe(seconds)

    def track_flask(self, app: Flask) -> None:
        """Time every HTTP request Flask answers; probes and scrapes are not traffic."""

        @app.before_request
        def start_timer():
            request.aurora_started = default_timer()

        @app.after_request
        def count(response: Response) -> Response:
            started = getattr(request, "aurora_started", None)
            if started is not None and not EXCLUDED.match(request.path):
                endpoint = request.endpoint or "unknown"
                self.record("http", request.method, endpoint, response.status_code, default_timer() - started)
            return response

    def observe_predictions(self, values: np.ndarray) -> None:
        """Keep a request's predictions for the histogram, cheaply enough for every request.

        Histogram.observe() costs about a microsecond per value under gunicorn (a locked write to
        the multiprocess file); a 100-row request would pay it 100 times. Each request's array is
        only kept here; every FLUSH_SECONDS a thread of the worker bins them together with numpy
        and adds each bucket's count to the histogram's own counter (one per bucket,
        non-cumulative, +Inf last): the same series, at most a flush later.
        """
        if self.predictions is None:
            return
        with self.pending_lock:
            self.pending.append(values)
            if self.flusher is None:
                self.flusher = threading.Thread(target=self.flush_forever, name="aurora-histogram", daemon=True)
                self.flusher.start()
                atexit.register(self.flush_predictions)  # a worker's last predictions still count

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush_predictions()
            except Exception:  # a flusher that died would let kept predictions pile up forever
                log.exception("could not add predictions to aurora_inference_prediction; they are dropped")

    def forget_flusher(self) -> None:
        """In a forked child: no flusher runs yet and the parent's pending predictions are not ours."""
        self.pending_lock = threading.Lock()
        self.pending = []
        self.flusher = None

    def flush_predictions(self) -> None:
        """Add what gathered to the histogram now."""
        with self.pending_lock:
            batch, self.pending = self.pending, []
        if batch:
            values = np.concatenate(batch)
            for bucket, count in enumerate(bucket_counts(values, self.bounds)):
                if count:
                    self.predictions._buckets[bucket].inc(int(count))
            self.predictions._sum.inc(float(values.sum()))

    def set_ready(self, ready: bool) -> None:
        self.info.labels(**self.labels, estimator=self.estimator).set(1 if ready else 0)

    def count_error(self, reason: str) -> None:
        self.errors.labels(**self.labels, reason=reason).inc()
