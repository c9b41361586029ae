"""The simulated traffic of one check window: each track's requests, errors and latency buckets,
drawn from a seeded generator so that every policy sees the same traffic."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hooks.baseline import quantile
from server.metrics import LATENCY_BUCKETS

BOUNDS = (*LATENCY_BUCKETS, math.inf)
BASE_ERROR_RATE = 0.005  # a healthy track's 5xx share
MEDIAN_SECONDS, SPREAD = 0.02, 0.5  # lognormal latency: p99 about 64 ms


@dataclass(frozen=True)
class Scenario:
    name: str
    stable_errors: float = BASE_ERROR_RATE
    canary_errors: float = BASE_ERROR_RATE
    canary_slower: float = 1.0  # the canary's latencies are stable's times this

    @property
    def is_healthy(self) -> bool:
        return self.canary_errors == self.stable_errors and self.canary_slower == 1.0


SCENARIOS = (
    Scenario("healthy"),
    Scenario("bad day (both 5 %)", 0.05, 0.05),
    Scenario("canary +1 pt", canary_errors=BASE_ERROR_RATE + 0.01),
    Scenario("canary +2 pt", canary_errors=BASE_ERROR_RATE + 0.02),
    Scenario("canary +5 pt", canary_errors=BASE_ERROR_RATE + 0.05),
    Scenario("canary +20 pt", canary_errors=BASE_ERROR_RATE + 0.20),
    Scenario("canary p99 +30 %", canary_slower=1.3),
)


def bucket_shares(slower: float) -> np.ndarray:
    """The share of requests in each latency bucket (not cumulative)."""
    below = [
        0.5 * (1 + math.erf(math.log(b / (MEDIAN_SECONDS * slower)) / (SPREAD * math.sqrt(2)))) for b in BOUNDS[:-1]
    ]
    cumulative = np.array([*below, 1.0])
    return np.diff(np.concatenate(([0.0], cumulative)))


def track(rng: np.random.Generator, requests: float, errors: float, shares: np.ndarray) -> dict:
    """One track's numbers as the hook reads them from Prometheus."""
    served = int(rng.poisson(requests))
    failed = int(rng.binomial(served, errors)) if served else 0
    buckets = list(zip(BOUNDS, np.cumsum(rng.multinomial(served, shares)).astype(float), strict=True))
    return {
        "requests": float(served),
        "errorRate": failed / served if served else None,
        "latencyP99": quantile(buckets, 0.99),
        "latencyBuckets": buckets,
    }


def window(seed: list[int], scenario: Scenario, rate: float, weight: int, seconds: int) -> dict:
    """Both tracks over one window, the canary taking `weight` % of `rate` requests/s."""
    rng = np.random.default_rng(seed)
    canary_share = weight / 100
    return {
        "canary": track(
            rng, rate * canary_share * seconds, scenario.canary_errors, bucket_shares(scenario.canary_slower)
        ),
        "stable": track(rng, rate * (1 - canary_share) * seconds, scenario.stable_errors, bucket_shares(1.0)),
    }
