"""Judging a canary against the stable track (`analysis.baseline: stable`) with a test that stays
valid however often it is looked at.

Each check adds one window's evidence to running sums kept in status.analysis.evidence:
- errors: the difference of the two tracks' error rates in the window, weighted by the size of
  the comparison (n_c * n_s / (n_c + n_s): with far more stable requests, about the canary's
  requests), against the allowed increase;
- latency: the canary's requests slower than stable's p99 of the same window times (1 + the
  allowed increase), against the 1 % of requests a p99 leaves above itself.

If the canary is no worse than allowed, each window adds about zero to S, the sum of observed
minus allowed, or less. A check fails when the one-sided normal mixture
M = 2 sqrt(RHO / (V + RHO)) exp(S^2 / (2 (V + RHO))) Phi(S / sqrt(V + RHO)), V being S's
variance, reaches 1 / alpha, alpha = 1 - confidence: M is a supermartingale under "no worse than
allowed", so the chance that it ever reaches 1 / alpha, at any check however many there are, is
at most alpha (Ville's inequality; the mixture is Robbins's, in the form of Howard, Ramdas,
McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences",
Annals of Statistics 2021). A fixed-sample test looked at every interval would instead add up
its false alarms.

Comparing within each window keeps a bad day for both tracks out of the canary's evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Where the boundary is tightest, in variance of the sum: smaller decides sooner on strong
# evidence and later on weak (bench/analysis measured 0.5, 1 and 3; 1 rolled back fewer healthy
# canaries at 1 request/s than 0.5, as fast at 10).
RHO = 1.0
# The share of requests a p99 leaves slower than itself.
TAIL = 0.01


@dataclass(frozen=True)
class Sums:
    """One measure's running sums: weight, weighted observed value, and its variance. The
    observed value is a difference of error rates, or a share of slow requests."""

    weight: float = 0.0
    observed: float = 0.0
    variance: float = 0.0

    def plus(self, other: Sums) -> Sums:
        return Sums(self.weight + other.weight, self.observed + other.observed, self.variance + other.variance)

    def boundary(self, confidence: float) -> float:
        """The S at which the mixture reaches 1 / alpha for this variance (it grows with S)."""
        target, low, high = -math.log(1 - confidence), 0.0, 1.0
        while log_mixture(high, self.variance) < target:
            high *= 2
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if log_mixture(middle, self.variance) < target else (low, middle)
        return high

    def estimate(self) -> float | None:
        return self.observed / self.weight if self.weight > 0 else None

    def lower_bound(self, confidence: float) -> float | None:
        """The value is at least this, at `confidence`, whenever it is looked at."""
        return (self.observed - self.boundary(confidence)) / self.weight if self.weight > 0 else None

    def exceeds(self, allowed: float, confidence: float) -> bool:
        bound = self.lower_bound(confidence)
        return bound is not None and bound > allowed

    def as_status(self) -> dict:
        return {"weight": self.weight, "observed": self.observed, "variance": self.variance}


def log_mixture(s: float, v: float) -> float:
    """ln M: the one-sided normal mixture of exp(lambda S - lambda^2 V / 2) over lambda >= 0."""
    spread = v + RHO
    tail = 0.5 * math.erfc(-s / math.sqrt(2 * spread))  # Phi(S / sqrt(V + RHO))
    return math.log(2) + 0.5 * math.log(RHO / spread) + s * s / (2 * spread) + math.log(max(tail, 1e-300))


def read_sums(recorded) -> Sums:
    """Sums as the status recorded them; anything else starts from nothing."""
    if not isinstance(recorded, dict):
        return Sums()
    values = [recorded.get(k) for k in ("weight", "observed", "variance")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return Sums()
    weight, observed, variance = values
    return Sums(weight, observed, variance) if weight >= 0 and variance >= 0 else Sums()


def smoothed(errors: float, requests: float) -> float:
    """An error rate for a variance: never exactly 0 or 1, so a window without errors still counts."""
    return (errors + 0.5) / (requests + 1)


def error_window(n_c: float, e_c: float, n_s: float, e_s: float) -> Sums:
    """One window's error-rate difference from each track's requests and errors; nothing when
    either track served no request."""
    if n_c <= 0 or n_s <= 0:
        return Sums()
    weight = n_c * n_s / (n_c + n_s)
    p_c, p_s = smoothed(e_c, n_c), smoothed(e_s, n_s)
    variance = weight**2 * (p_c * (1 - p_c) / n_c + p_s * (1 - p_s) / n_s)
    return Sums(weight, weight * (e_c / n_c - e_s / n_s), variance)


def latency_window(canary: list[tuple[float, float]], stable: list[tuple[float, float]], increase: float) -> Sums:
    """One window's canary requests slower than stable's p99 times (1 + increase), from each
    track's cumulative (le, count) buckets; nothing without a stable p99 or canary requests.
    The observed value is their share, a p99 allows TAIL."""
    p99 = quantile(stable, 1 - TAIL)
    requests = max((count for _, count in canary), default=0.0)
    if p99 is None or requests <= 0:
        return Sums()
    slower = count_above(canary, p99 * (1 + increase))
    return Sums(requests, slower, TAIL * (1 - TAIL) * requests)


def count_above(buckets: list[tuple[float, float]], bound: float) -> float:
    """Requests slower than `bound` from cumulative (le, count) buckets, read linearly inside
    the bucket that holds it, as Prometheus's histogram_quantile reads."""
    ordered = sorted(buckets)
    total, lower, below = (ordered[-1][1] if ordered else 0.0), 0.0, 0.0
    for le, count in ordered:
        if bound < le:
            inside = 0.0 if math.isinf(le) else (count - below) * (bound - lower) / (le - lower)
            return max(total - below - inside, 0.0)
        lower, below = le, count
    return 0.0


def quantile(buckets: list[tuple[float, float]], share: float) -> float | None:
    """The `share` quantile of cumulative (le, count) buckets, linear inside a bucket; None
    without requests or when it falls in the +Inf bucket."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank, lower, below = share * ordered[-1][1], 0.0, 0.0
    for le, count in ordered:
        if count >= rank and count > below:
            return None if math.isinf(le) else lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return None


@dataclass(frozen=True)
class Evidence:
    """What the checks of one rollout have seen so far: the canary's requests, and the sums of
    each measure."""

    requests: float = 0.0
    errors: Sums = Sums()
    latency: Sums = Sums()

    def plus(self, other: Evidence) -> Evidence:
        return Evidence(
            self.requests + other.requests, self.errors.plus(other.errors), self.latency.plus(other.latency)
        )


def window_evidence(observations: dict, analysis: dict) -> Evidence:
    """What one check's window adds, from both tracks' numbers as Prometheus gave them."""
    canary, stable = observations.get("canary") or {}, observations.get("stable") or {}
    n_c, n_s = canary.get("requests") or 0.0, stable.get("requests") or 0.0
    errors = error_window(n_c, n_c * (canary.get("errorRate") or 0.0), n_s, n_s * (stable.get("errorRate") or 0.0))
    latency = latency_window(
        canary.get("latencyBuckets") or [], stable.get("latencyBuckets") or [], analysis["maxLatencyIncrease"]
    )
    return Evidence(n_c, errors, latency)


def evidence_status(evidence: Evidence, confidence: float | None) -> dict:
    """status.analysis.evidence: the sums to go on from, and what they show (the lower bound at
    the confidence the check applied)."""

    def shown(sums: Sums) -> dict:
        bound = sums.lower_bound(confidence) if confidence is not None else None
        fields = {**sums.as_status(), "estimate": sums.estimate(), "lowerBound": bound}
        return {k: v for k, v in fields.items() if v is not None}

    return {"requests": evidence.requests, "errors": shown(evidence.errors), "latency": shown(evidence.latency)}


def read_evidence(recorded) -> Evidence:
    """The evidence as the status recorded it; anything unreadable starts from nothing."""
    if not isinstance(recorded, dict):
        return Evidence()
    requests = recorded.get("requests")
    if not isinstance(requests, int | float) or isinstance(requests, bool) or not requests >= 0:
        return Evidence()
    return Evidence(requests, read_sums(recorded.get("errors")), read_sums(recorded.get("latency")))
