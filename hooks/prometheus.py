"""Reading canary analysis numbers from Prometheus's HTTP API.

Only this module talks to Prometheus. Each query has a short timeout and the whole
read a budget, so a sync stays far inside Metacontroller's 10 s hook timeout; any
failure gives None, which the reconciler reads as "no promotion, no rollback on metrics".
"""

from __future__ import annotations

import logging
import math
import time

import requests

from hooks.analysis import population_stability, shift_noise

log = logging.getLogger("aurora.hooks")
QUERY_TIMEOUT_SECONDS = 2.0
# The whole read, all six queries: a slow Prometheus must never hold a sync for long.
BUDGET_SECONDS = 2.5
REQUESTS = "aurora_inference_http_request_total"
DURATION = "aurora_inference_http_request_duration_seconds_bucket"
PREDICTIONS = "aurora_inference_prediction_bucket"


class PrometheusError(Exception):
    """Prometheus could not answer a query."""


def selector(window: dict, track: str, extra: str = "") -> str:
    version = window["canaryVersion"] if track == "canary" else window["stableVersion"]
    labels = f'namespace="{window["namespace"]}",model="{window["model"]}",track="{track}",model_version="{version}"'
    return "{" + labels + extra + "}"


def queries(window: dict) -> dict[tuple[str, str], str]:
    """PromQL per (track, measure) over the analysis window."""
    seconds = f"{window['windowSeconds']}s"
    out = {}
    for track in ("canary", "stable"):
        every, errors = selector(window, track), selector(window, track, ',status=~"5.."')
        out[(track, "requests")] = f"sum(increase({REQUESTS}{every}[{seconds}]))"
        # No 5xx series at all means an error rate of 0, not "unknown".
        out[(track, "errorRate")] = (
            f"(sum(rate({REQUESTS}{errors}[{seconds}])) or vector(0)) / sum(rate({REQUESTS}{every}[{seconds}]))"
        )
        out[(track, "latencyP99")] = f"histogram_quantile(0.99, sum by (le) (rate({DURATION}{every}[{seconds}])))"
    return out


class PrometheusClient:
    def __init__(self, url: str, *, timeout: float = QUERY_TIMEOUT_SECONDS, budget: float = BUDGET_SECONDS):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.budget = budget
        self.session = requests.Session()

    def scalar(self, query: str, timeout: float | None = None) -> float | None:
        """One instant query's single value; None when it returned no series or NaN."""
        result = self.vector(query, timeout or self.timeout)
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) or math.isinf(value) else value

    def observe(self, window: dict) -> dict | None:
        """Requests, error rate and p99 of both tracks over the window, or None on any failure."""
        started = time.monotonic()
        observations: dict = {"canary": {}, "stable": {}}
        try:
            for (track, measure), query in queries(window).items():
                left = self.budget - (time.monotonic() - started)
                if left <= 0.05:
                    raise PrometheusError(f"over the {self.budget:g}s budget")
                # No query may run past the budget, however slow Prometheus is.
                observations[track][measure] = self.scalar(query, timeout=min(self.timeout, left))
        except PrometheusError as err:
            log.warning("prometheus %s unavailable for analysis: %s", self.url, err)
            return None
        for track in observations.values():
            track["requests"] = track["requests"] or 0.0
        observations["canary"].update(self.prediction_shift(window, started))
        return observations

    def prediction_shift(self, window: dict, started: float) -> dict:
        """PSI of the canary's predictions against stable's over the window, and the PSI chance
        alone would give samples of their sizes; {} when either track has no prediction
        histogram or the budget is spent (the check then ignores it)."""
        counts = {}
        try:
            for track in ("stable", "canary"):
                left = self.budget - (time.monotonic() - started)
                if left <= 0.05:
                    return {}
                query = f"sum by (le) (increase({PREDICTIONS}{selector(window, track)}[{window['windowSeconds']}s]))"
                counts[track] = bin_counts(self.vector(query, timeout=min(self.timeout, left)))
        except PrometheusError as err:
            log.warning("prometheus %s: no prediction histogram: %s", self.url, err)
            return {}
        if set(counts["stable"]) != set(counts["canary"]):
            return {}  # not the same bounds: not comparable
        bounds = sorted(counts["stable"])
        stable, canary = [counts["stable"][b] for b in bounds], [counts["canary"][b] for b in bounds]
        shift, noise = population_stability(stable, canary), shift_noise(stable, canary)
        return {} if shift is None else {"predictionShift": shift, "predictionShiftNoise": noise}

    def vector(self, query: str, timeout: float) -> list[dict]:
        try:
            answer = self.session.get(f"{self.url}/api/v1/query", params={"query": query}, timeout=timeout)
            answer.raise_for_status()
            body = answer.json()
        except (requests.RequestException, ValueError) as err:
            raise PrometheusError(f"{type(err).__name__}: {err}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"query failed: {body.get('error', body)}")
        return body["data"]["result"]


def bin_counts(result: list[dict]) -> dict[float, float]:
    """Cumulative `le` buckets -> the count of each bin, keyed by its upper bound (inf last)."""
    cumulative = sorted((float(r["metric"]["le"]), float(r["value"][1])) for r in result if "le" in r["metric"])
    counts, below = {}, 0.0
    for bound, total in cumulative:
        counts[bound] = max(total - below, 0.0)
        below = total
    return counts
