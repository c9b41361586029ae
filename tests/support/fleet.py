"""A double for thousands of inference pods, which cannot each run a process here.

On the cluster tier at scale, inference pods are fake (kwok marks them Ready; nothing runs), yet
canary analysis reads their `aurora_inference_*` series from Prometheus (hooks/prometheus.py).
A `Fleet` serves those series for every pod it holds, on one /metrics, named, labelled and
bucketed as aurora-serve's (server/metrics.py), with `namespace` and `pod` labels added: scraped
with `honor_labels: true`, they stand in for the labels Kubernetes discovery gives.

Each pod answers REST V2 inference requests at a steady rate, following its version's
`Behaviour`; counters are worked out from the time elapsed, so they grow as real ones do. A
change of behaviour keeps what was counted so far and applies from then on.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from server.errors import InjectedFault
from server.metrics import LATENCY_BUCKETS, PREFIX, bucket_counts

OK = 200
# Every request of the double is a REST V2 inference call, labelled as aurora-serve labels those.
METHOD, ENDPOINT, PROTOCOL = "POST", "v2_infer", "http"
MODEL_LABELS = ("model", "model_version", "track")
POD_LABELS = ("namespace", "pod")


@dataclass(frozen=True)
class Target:
    """One inference pod: where it runs and the version it serves."""

    namespace: str
    pod: str
    model: str
    model_version: str
    track: str

    def version_key(self) -> tuple[str, str, str]:
        return (self.namespace, self.model, self.model_version)

    def model_labels(self) -> list[str]:
        return [self.model, self.model_version, self.track]


@dataclass(frozen=True)
class Behaviour:
    """How a version's pods answer: requests per second (each pod), the share failed (500), the
    time each request takes, and the predicted values, given in turn one per request.

    Every request takes `latency_seconds`, so Prometheus's p99 reads inside that latency's bucket.
    """

    requests_per_second: float = 10.0
    error_rate: float = 0.0
    latency_seconds: float = 0.004
    predictions: tuple[float, ...] = (150.0,)


HEALTHY = Behaviour()


def failing(error_rate: float, behaviour: Behaviour = HEALTHY) -> Behaviour:
    return replace(behaviour, error_rate=error_rate)


def slow(latency_seconds: float, behaviour: Behaviour = HEALTHY) -> Behaviour:
    return replace(behaviour, latency_seconds=latency_seconds)


@dataclass
class Tally:
    """What a pod has answered: requests by (status, latency), predicted values by bucket."""

    answered: Counter
    predicted: np.ndarray
    predicted_sum: float = 0.0

    def plus(self, other: Tally) -> Tally:
        return Tally(
            self.answered + other.answered, self.predicted + other.predicted, self.predicted_sum + other.predicted_sum
        )

    def failed(self) -> int:
        return sum(n for (status, _), n in self.answered.items() if status != OK)


def tally_of(behaviour: Behaviour, requests: int, bounds: np.ndarray) -> Tally:
    """The first `requests` requests under `behaviour`: a share failed, the rest predicted."""
    # A whole number of failures: 100 x 0.29 is a hair under 29 in floating point.
    failed = int(requests * behaviour.error_rate + 1e-9)
    served = requests - failed
    counts = Counter(
        {(OK, behaviour.latency_seconds): served, (InjectedFault.status, behaviour.latency_seconds): failed}
    )
    if len(bounds) == 0:
        # A pod without the stable version's bounds has no prediction histogram to count into.
        return Tally(+counts, np.zeros(1, dtype=np.int64), 0.0)
    values = np.asarray(behaviour.predictions, dtype=float)
    rounds, rest = divmod(served, len(values))
    predicted = rounds * bucket_counts(values, bounds) + bucket_counts(values[:rest], bounds)
    return Tally(+counts, predicted, rounds * float(values.sum()) + float(values[:rest].sum()))


class Pod:
    """A target's behaviour since `since`, and its tally before then."""

    def __init__(self, behaviour: Behaviour, bounds: tuple[float, ...], estimator: str, now: float):
        self.bounds = np.asarray(bounds, dtype=float)
        self.estimator = estimator
        self.behaviour, self.since = behaviour, now
        self.before = Tally(Counter(), np.zeros(len(bounds) + 1, dtype=np.int64))

    def tally(self, now: float) -> Tally:
        requests = int((now - self.since) * self.behaviour.requests_per_second)
        return self.before.plus(tally_of(self.behaviour, requests, self.bounds))

    def change(self, behaviour: Behaviour, now: float) -> None:
        self.before, self.behaviour, self.since = self.tally(now), behaviour, now


class Fleet:
    """Inference pods' series on one /metrics; add, remove and change pods while it serves."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.pods: dict[Target, Pod] = {}
        self.versions: dict[tuple[str, str, str], Behaviour] = {}
        self.lock = threading.Lock()
        self.server = None
        self.address = ""

    def add(
        self,
        target: Target,
        behaviour: Behaviour | None = None,
        *,
        prediction_buckets: tuple[float, ...] = (),
        estimator: str = "ridge",
    ) -> None:
        """A pod starts answering, as its version's pods do unless told otherwise; `prediction_buckets`
        are the stable version's, as the hook has every version's pods use."""
        with self.lock:
            behaviour = behaviour or self.versions.get(target.version_key(), HEALTHY)
            self.pods[target] = Pod(behaviour, tuple(prediction_buckets), estimator, self.clock())

    def remove(self, target: Target) -> None:
        with self.lock:
            self.pods.pop(target, None)

    def set_behaviour(self, namespace: str, model: str, version: str, behaviour: Behaviour) -> int:
        """That version's pods, and those added later, answer so from now on; returns how many pods it has."""
        key = (namespace, model, version)
        with self.lock:
            now = self.clock()
            self.versions[key] = behaviour
            chosen = [pod for target, pod in self.pods.items() if target.version_key() == key]
            for pod in chosen:
                pod.change(behaviour, now)
        return len(chosen)

    def collect(self):
        """The families of every pod, as the Prometheus client library asks a collector."""
        with self.lock:
            now = self.clock()
            tallies = [(target, pod, pod.tally(now)) for target, pod in self.pods.items()]
        return exposition(tallies)

    def start(self) -> str:
        """Serve /metrics on a free port of 127.0.0.1; returns the address to scrape."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        self.server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        self.address = f"127.0.0.1:{self.server.server_port}"
        return self.address

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def exposition(tallies: list[tuple[Target, Pod, Tally]]) -> list:
    """aurora-serve's families for every pod's tally, each series with the pod's labels too."""
    requests = CounterMetricFamily(
        f"{PREFIX}_http_request_total",
        "Requests answered, by protocol, method and status",
        labels=["method", "status", *MODEL_LABELS, "protocol", *POD_LABELS],
    )
    latency = HistogramMetricFamily(
        f"{PREFIX}_http_request_duration_seconds",
        "Time to answer a request, by protocol, endpoint, method and status",
        labels=["method", "endpoint", "status", *MODEL_LABELS, "protocol", *POD_LABELS],
    )
    rows = CounterMetricFamily(f"{PREFIX}_predicted_rows_total", "Rows predicted", labels=[*MODEL_LABELS, *POD_LABELS])
    errors = CounterMetricFamily(
        f"{PREFIX}_errors_total",
        "Requests answered with an error, by reason",
        labels=[*MODEL_LABELS, "reason", *POD_LABELS],
    )
    info = GaugeMetricFamily(
        f"{PREFIX}_model_info",
        "1 while this model version is loaded and verified",
        labels=[*MODEL_LABELS, "estimator", *POD_LABELS],
    )
    predictions = HistogramMetricFamily(
        f"{PREFIX}_prediction",
        "Predicted values, on the bounds of the stable version's training target quantiles",
        labels=[*MODEL_LABELS, *POD_LABELS],
    )
    for target, pod, tally in tallies:
        where = [target.namespace, target.pod]
        add_requests(requests, latency, target, tally)
        rows.add_metric([*target.model_labels(), *where], int(tally.predicted.sum()))
        if tally.failed():
            errors.add_metric([*target.model_labels(), InjectedFault.reason, *where], tally.failed())
        info.add_metric([*target.model_labels(), pod.estimator, *where], 1)
        if len(pod.bounds):
            buckets = cumulative(pod.bounds, tally.predicted)
            predictions.add_metric([*target.model_labels(), *where], buckets, tally.predicted_sum)
    # A family shows once it has a series, as in aurora-serve's multiprocess exposition.
    return [family for family in (requests, latency, rows, errors, info, predictions) if family.samples]


def add_requests(requests, latency, target: Target, tally: Tally) -> None:
    """One request counter and one latency histogram per status, as aurora-serve has them."""
    where = [target.namespace, target.pod]
    for status in sorted({status for status, _ in tally.answered}):
        taken = {seconds: n for (s, seconds), n in tally.answered.items() if s == status}
        labels = [METHOD, str(status), *target.model_labels(), PROTOCOL]
        requests.add_metric([*labels, *where], sum(taken.values()))
        per_bucket = np.zeros(len(LATENCY_BUCKETS) + 1, dtype=np.int64)
        for seconds, n in taken.items():
            per_bucket += n * bucket_counts(np.array([seconds]), np.asarray(LATENCY_BUCKETS))
        total_seconds = sum(seconds * n for seconds, n in taken.items())
        latency_labels = [METHOD, ENDPOINT, str(status), *target.model_labels(), PROTOCOL, *where]
        latency.add_metric(latency_labels, cumulative(LATENCY_BUCKETS, per_bucket), total_seconds)


def cumulative(bounds, per_bucket: np.ndarray) -> list[tuple[str, int]]:
    """Per-bucket counts (+Inf last) as a histogram's cumulative `le` buckets."""
    edges = [*(floatToGoString(b) for b in bounds), "+Inf"]
    return list(zip(edges, (int(n) for n in np.cumsum(per_bucket)), strict=True))
