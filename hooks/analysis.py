"""Canary analysis: one window's numbers judged against the thresholds, with the deciding numbers.

Pure: the numbers come from Prometheus through the HTTP layer (hooks/prometheus.py).
"""

from __future__ import annotations

import math

from aurora_api.verdicts import Verdict
from hooks.baseline import TAIL, Evidence, window_evidence

PASS, FAIL, INCONCLUSIVE = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE
# A canary is "clearly worse" than stable when it is this many times worse and by at least this much.
WORSE_FACTOR = 2.0
WORSE_ERROR_RATE_MARGIN = 0.005
WORSE_LATENCY_MARGIN_SECONDS = 0.05
# Added to every bin's share before the logarithm, so an empty bin does not make the index infinite.
PSI_EPSILON = 1e-4
# A shift passes only when the index chance alone gives is at most this share of the limit, and
# fails only when it exceeds the limit by more than this many times that index.
SHIFT_NOISE_SHARE = 0.5
SHIFT_NOISE_MARGIN = 4.0


def judge(observations: dict, analysis: dict) -> tuple[str, list[str]]:
    """Pass, Fail or Inconclusive for one window, with the deciding numbers."""
    canary, stable = observations.get("canary") or {}, observations.get("stable") or {}
    requests = canary.get("requests") or 0
    # No requests at all is never a pass, even with minRequests 0.
    if requests < max(analysis["minRequests"], 1):
        return INCONCLUSIVE, [f"canary served {requests:g} requests < minRequests {analysis['minRequests']}"]
    reasons = threshold_failures(canary, analysis) or comparison_failures(canary, stable, analysis)
    if reasons:
        return FAIL, reasons
    reasons = shift_failures(canary, analysis)
    if reasons:
        return FAIL, reasons
    unjudged = unmeasured_shift(canary, analysis)
    return (INCONCLUSIVE, [unjudged]) if unjudged else (PASS, [summary_line(canary, analysis)])


def judge_against_stable(observations: dict, analysis: dict, before: Evidence) -> tuple[str, list[str], Evidence]:
    """Pass, Fail or Inconclusive with the rollout's evidence so far (hooks/baseline.py), the
    deciding numbers, and the evidence with this window added. A ceiling written in the spec
    still fails a check on its own; too few canary requests so far, and no excess shown, is
    Inconclusive."""
    evidence = before.plus(window_evidence(observations, analysis))
    canary = observations.get("canary") or {}
    reasons = (
        threshold_failures(canary, analysis) + excess_failures(evidence, analysis) + shift_failures(canary, analysis)
    )
    if reasons:
        return FAIL, reasons, evidence
    if evidence.requests < max(analysis["minRequests"], 1):
        few = f"canary served {evidence.requests:g} requests so far < minRequests {analysis['minRequests']}"
        return INCONCLUSIVE, [few], evidence
    unjudged = unmeasured_shift(canary, analysis)
    return (INCONCLUSIVE, [unjudged], evidence) if unjudged else (PASS, [comparison_line(evidence, analysis)], evidence)


def excess_failures(evidence: Evidence, analysis: dict) -> list[str]:
    """The excesses over stable the evidence shows at the confidence asked."""
    confidence, reasons = analysis["confidence"], []
    errors, latency = evidence.errors, evidence.latency
    if errors.exceeds(analysis["maxErrorRateIncrease"], confidence):
        reasons.append(
            f"canary error rate exceeds stable's by {errors.estimate():.3g} "
            f"(at least {errors.lower_bound(confidence):.3g} at {confidence:g} confidence) "
            f"> {analysis['maxErrorRateIncrease']:g}"
        )
    if latency.exceeds(TAIL, confidence):
        reasons.append(
            f"{latency.estimate():.2%} of canary requests (at least {latency.lower_bound(confidence):.2%} at "
            f"{confidence:g} confidence) were slower than stable's p99 + {analysis['maxLatencyIncrease']:.0%}, "
            f"where a p99 allows {TAIL:.0%}"
        )
    return reasons


def comparison_line(evidence: Evidence, analysis: dict) -> str:
    errors = evidence.errors.estimate()
    shown = "no window compared with stable yet" if errors is None else f"canary error rate {errors:+.3g} on stable's"
    return (
        f"{shown} (allowed +{analysis['maxErrorRateIncrease']:g}), no excess shown at {analysis['confidence']:g} "
        f"confidence over {evidence.requests:g} canary requests"
    )


def shift_failures(canary: dict, analysis: dict) -> list[str]:
    """Predictions that moved away from the stable version's, by more than the limit and more
    than chance could (four times the index chance alone gives), when a limit is set."""
    limit, shift = analysis.get("maxPredictionShift"), canary.get("predictionShift")
    noise = canary.get("predictionShiftNoise") or 0.0
    if limit is None or shift is None or shift <= limit + SHIFT_NOISE_MARGIN * noise:
        return []
    return [f"canary predictions shifted from stable's: PSI {shift:.3g} > {limit:g}"]


def unmeasured_shift(canary: dict, analysis: dict) -> str:
    """Why the window's predictions cannot tell a shift of the limit from chance ('' when they can):
    over the limit but not clearly, or too few to have seen a shift of the limit's size."""
    limit, shift, noise = (
        analysis.get("maxPredictionShift"),
        canary.get("predictionShift"),
        canary.get("predictionShiftNoise"),
    )
    if limit is None or shift is None or noise is None or (shift <= limit and noise <= limit * SHIFT_NOISE_SHARE):
        return ""
    return (
        f"too few predictions to judge a shift: PSI {shift:.2g}, of which chance alone gives about "
        f"{noise:.2g}, against the limit {limit:g}"
    )


def shift_noise(stable: list[float], canary: list[float]) -> float | None:
    """The index two samples of one distribution show by chance alone: about (bins - 1) times
    (1/n_canary + 1/n_stable), counting the bins either sample uses (the index, scaled by the
    samples' sizes, is close to a chi-square with bins - 1 degrees of freedom). None without counts."""
    total_stable, total_canary = sum(stable), sum(canary)
    if len(stable) != len(canary) or total_stable <= 0 or total_canary <= 0:
        return None
    used = sum(1 for s, c in zip(stable, canary, strict=True) if s > 0 or c > 0)
    return max(used - 1, 0) * (1 / total_canary + 1 / total_stable)


def population_stability(stable: list[float], canary: list[float]) -> float | None:
    """The population stability index of the canary's predictions against stable's, from per-bin
    counts on the same bounds: sum of (c - s) * ln(c / s) over the bins' shares. 0 for the same
    distribution; above 0.25 is commonly read as a significant shift. None without counts."""
    total_stable, total_canary = sum(stable), sum(canary)
    if len(stable) != len(canary) or total_stable <= 0 or total_canary <= 0:
        return None
    index = 0.0
    for ours, theirs in zip(canary, stable, strict=True):
        c = ours / total_canary + PSI_EPSILON
        s = theirs / total_stable + PSI_EPSILON
        index += (c - s) * math.log(c / s)
    return index


def threshold_failures(canary: dict, analysis: dict) -> list[str]:
    """The ceilings the canary went over; with a baseline, only those written in the spec are set."""
    reasons = []
    error_rate, p99 = canary.get("errorRate"), canary.get("latencyP99")
    ceiling, p99_ceiling = analysis.get("maxErrorRate"), analysis.get("maxLatencyP99Seconds")
    if error_rate is not None and ceiling is not None and error_rate > ceiling:
        reasons.append(f"canary error rate {error_rate:.3g} > {ceiling:g}")
    if p99 is not None and p99_ceiling is not None and p99 > p99_ceiling:
        reasons.append(f"canary p99 {p99:.3g}s > {p99_ceiling:g}s")
    return reasons


def comparison_failures(canary: dict, stable: dict, analysis: dict) -> list[str]:
    """Clearly worse than stable (judged only when stable served enough requests too)."""
    if (stable.get("requests") or 0) < analysis["minRequests"]:
        return []
    reasons = []
    measures = (
        ("errorRate", "error rate", WORSE_ERROR_RATE_MARGIN, ""),
        ("latencyP99", "p99", WORSE_LATENCY_MARGIN_SECONDS, "s"),
    )
    for field, name, margin, unit in measures:
        ours, theirs = canary.get(field), stable.get(field)
        if ours is not None and theirs is not None and ours > max(theirs * WORSE_FACTOR, theirs + margin):
            reasons.append(f"canary {name} {ours:.3g}{unit} is clearly worse than stable's {theirs:.3g}{unit}")
    return reasons


def summary_line(canary: dict, analysis: dict) -> str:
    error_rate, p99 = canary.get("errorRate") or 0.0, canary.get("latencyP99") or 0.0
    line = (
        f"canary error rate {error_rate:.3g} <= {analysis['maxErrorRate']:g}, "
        f"p99 {p99:.3g}s <= {analysis['maxLatencyP99Seconds']:g}s over {canary.get('requests', 0):g} requests"
    )
    shift, limit = canary.get("predictionShift"), analysis.get("maxPredictionShift")
    return line + (f", PSI {shift:.3g} <= {limit:g}" if shift is not None and limit is not None else "")


def number(value) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def track_numbers(track) -> dict:
    """One track's numbers as recorded in status.analysis (anything else is dropped)."""
    track = track if isinstance(track, dict) else {}
    numbers = {
        "requests": number(track.get("requests")) or 0,
        "errorRate": number(track.get("errorRate")),
        "latencyP99": number(track.get("latencyP99")),
    }
    for field in ("predictionShift", "predictionShiftNoise"):
        value = number(track.get(field))
        if value is not None:
            numbers[field] = value
    return numbers
