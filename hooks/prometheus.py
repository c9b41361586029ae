"""Reading canary analysis numbers from Prometheus's HTTP API.

Only this module talks to Prometheus. A check is one query with a short timeout, so a sync
stays far inside Metacontroller's 10 s hook timeout, however slow Prometheus is; any failure
gives None, which the reconciler reads as "no promotion, no rollback on metrics".
"""

from __future__ import annotations

import logging
import math

import requests

from hooks.analysis import population_stability, shift_noise

log = logging.getLogger("aurora.hooks")
QUERY_TIMEOUT_SECONDS = 2.0  # to answer; Prometheus is told the same, and gives up evaluating then
CONNECT_TIMEOUT_SECONDS = 0.5
TRACKS = ("canary", "stable")
REQUESTS = "aurora_inference_http_request_total"
DURATION = "aurora_inference_http_request_duration_seconds_bucket"
PREDICTIONS = "aurora_inference_prediction_bucket"
SERVER_ERRORS = ',status=~"5.."'  # a label matcher, added to a selector
MEASURE = "aurora_measure"  # the label a check's one query sets on each of its series


class PrometheusError(Exception):
    """Prometheus could not answer a query."""


def selector(window: dict, track: str, extra: str = "") -> str:
    version = window["canaryVersion"] if track == "canary" else window["stableVersion"]
    labels = f'namespace="{window["namespace"]}",model="{window["model"]}",track="{track}",model_version="{version}"'
    return "{" + labels + extra + "}"


def both_tracks(window: dict, function: str, metric: str, extra: str = "") -> str:
    """`function(metric[window])` of the canary's series or stable's, each on its own version;
    `by (track)` keeps them apart."""
    seconds = f"{window['windowSeconds']}s"
    return " or ".join(f"{function}({metric}{selector(window, track, extra)}[{seconds}])" for track in TRACKS)


def measures(window: dict) -> dict[str, str]:
    """PromQL per measure over the analysis window, each for both tracks."""
    found = {
        "requests": f"sum by (track) ({both_tracks(window, 'increase', REQUESTS)})",
        "errors": f"sum by (track) ({both_tracks(window, 'increase', REQUESTS, SERVER_ERRORS)})",
        "latencyP99": f"histogram_quantile(0.99, sum by (track, le) ({both_tracks(window, 'rate', DURATION)}))",
        "predictions": f"sum by (track, le) ({both_tracks(window, 'increase', PREDICTIONS)})",
    }
    if window.get("latencyBuckets"):
        found["latencyBuckets"] = f"sum by (track, le) ({both_tracks(window, 'increase', DURATION)})"
    return found


def check_query(queries: dict[str, str]) -> str:
    """Every measure of a check in one query, each series labelled with its measure: one round
    trip and one evaluation per check, however many checks are due at once."""
    return " or ".join(f'label_replace({q}, "{MEASURE}", "{m}", "", "")' for m, q in queries.items())


class PrometheusClient:
    def __init__(self, url: str, *, timeout: float = QUERY_TIMEOUT_SECONDS):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def scalar(self, query: str, timeout: float | None = None) -> float | None:
        """One instant query's single value; None when it returned no series or NaN."""
        result = self.vector(query, timeout or self.timeout)
        return finite(result[0]["value"][1]) if result else None

    def observe(self, window: dict) -> dict | None:
        """Requests, error rate and p99 of both tracks over the window, and the canary's prediction
        shift, or None when Prometheus did not answer in time."""
        queries = measures(window)
        try:
            result = self.vector(check_query(queries), self.timeout)
        except PrometheusError as err:
            log.warning("prometheus %s unavailable for analysis: %s", self.url, err)
            return None
        answers = {m: [r for r in result if r["metric"].get(MEASURE) == m] for m in queries}
        observations = {track: track_measures(answers, track) for track in TRACKS}
        if "latencyBuckets" in answers:
            for track in TRACKS:
                observations[track]["latencyBuckets"] = cumulative(of_track(answers["latencyBuckets"], track))
        observations["canary"].update(prediction_shift(answers["predictions"]))
        return observations

    def vector(self, query: str, timeout: float) -> list[dict]:
        try:
            # A form body: a check's query is longer than some proxies take in a URL.
            answer = self.session.post(
                f"{self.url}/api/v1/query",
                data={"query": query, "timeout": f"{timeout:g}s"},
                timeout=(CONNECT_TIMEOUT_SECONDS, timeout),
            )
            answer.raise_for_status()
            body = answer.json()
        except (requests.RequestException, ValueError) as err:
            raise PrometheusError(f"{type(err).__name__}: {err}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"query failed: {body.get('error', body)}")
        return body["data"]["result"]


def finite(value) -> float | None:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def of_track(result: list[dict], track: str) -> list[dict]:
    return [r for r in result if r["metric"].get("track") == track]


def value_of(result: list[dict], track: str) -> float | None:
    return next((finite(r["value"][1]) for r in of_track(result, track)), None)


def track_measures(answers: dict, track: str) -> dict:
    """One track's requests, error rate and p99. No 5xx series means an error rate of 0; no
    requests, an error rate nobody knows."""
    served = value_of(answers["requests"], track) or 0.0
    errors = value_of(answers["errors"], track) or 0.0
    error_rate = errors / served if served > 0 else None
    return {"requests": served, "errorRate": error_rate, "latencyP99": value_of(answers["latencyP99"], track)}


def prediction_shift(result: list[dict]) -> dict:
    """PSI of the canary's predictions against stable's over the window, and the PSI chance alone
    would give samples of their sizes; {} when either track has no histogram or their bounds
    differ (the check then ignores it)."""
    counts = {track: bin_counts(of_track(result, track)) for track in TRACKS}
    if set(counts["stable"]) != set(counts["canary"]):
        return {}
    bounds = sorted(counts["stable"])
    stable, canary = [counts["stable"][b] for b in bounds], [counts["canary"][b] for b in bounds]
    shift, noise = population_stability(stable, canary), shift_noise(stable, canary)
    return {} if shift is None else {"predictionShift": shift, "predictionShiftNoise": noise}


def cumulative(result: list[dict]) -> list[tuple[float, float]]:
    """A histogram's cumulative (le, count) buckets, lowest first."""
    return sorted((float(r["metric"]["le"]), float(r["value"][1])) for r in result if "le" in r["metric"])


def bin_counts(result: list[dict]) -> dict[float, float]:
    """Cumulative `le` buckets -> the count of each bin, keyed by its upper bound (inf last)."""
    counts, below = {}, 0.0
    for bound, total in cumulative(result):
        counts[bound] = max(total - below, 0.0)
        below = total
    return counts
