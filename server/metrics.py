"""Every metric of the inference server, defined once, each labelled model, model_version and track.

Request counts and latency come from prometheus-flask-exporter (`aurora_inference_http_*`);
under gunicorn they live in prometheus_client's multiprocess files, so /metrics on any
worker reports the sum over all workers.
"""

from __future__ import annotations

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

PREFIX = "aurora_inference"
# Fine below 100 ms where inference lives, and around the 0.5 s latency threshold of canary analysis.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Probes and scrapes are not traffic: keep them out of error rates and latency.
EXCLUDED_PATHS = (r"^/metrics$", r"^/v2/health/")


def labelled_only(exporter: type[PrometheusMetrics]) -> type[PrometheusMetrics]:
    """The exporter without its own version series, the one series that would lack model labels."""

    class Exporter(exporter):
        def info(self, name, description, labelnames=None, labelvalues=None, **labels):
            if name == f"{PREFIX}_exporter_info":
                return None
            return super().info(name, description, labelnames, labelvalues, **labels)

    return Exporter


class InferenceMetrics:
    """The exporter's request metrics plus predicted rows, errors by reason and model info."""

    def __init__(self, app: Flask, *, model: str, version: str, track: str, estimator: str, multiprocess: bool):
        labels = {"model": model, "model_version": version, "track": track}
        registry = CollectorRegistry()
        exporter = labelled_only(GunicornInternalPrometheusMetrics if multiprocess else PrometheusMetrics)
        self.exporter = exporter(
            app,
            registry=registry,
            defaults_prefix=PREFIX,
            group_by="endpoint",
            buckets=LATENCY_BUCKETS,
            default_labels=labels,
            excluded_paths=list(EXCLUDED_PATHS),
        )
        names = tuple(labels)
        self.rows = Counter(f"{PREFIX}_predicted_rows_total", "Rows predicted", names, registry=registry).labels(
            **labels
        )
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
        self.labels = labels
        self.estimator = estimator

    def set_ready(self, ready: bool) -> None:
        self.info.labels(**self.labels, estimator=self.estimator).set(1 if ready else 0)

    def count_error(self, reason: str) -> None:
        self.errors.labels(**self.labels, reason=reason).inc()
