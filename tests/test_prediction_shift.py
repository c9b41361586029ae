"""Prediction-shift analysis: the population stability index and the check built on it."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hooks import analysis
from hooks.prometheus import bin_counts
from trainer.train import prediction_buckets

LIMITS = {"minRequests": 50, "maxErrorRate": 0.01, "maxLatencyP99Seconds": 0.5, "failureLimit": 2}
HEALTHY = {"requests": 500.0, "errorRate": 0.0, "latencyP99": 0.02}


def test_the_index_of_a_known_shift():
    # Shares 0.5/0.5 against 0.9/0.1: (0.4)ln(0.9/0.5) + (-0.4)ln(0.1/0.5) = 0.879 (with the epsilon: 0.8794).
    assert analysis.population_stability([50, 50], [90, 10]) == pytest.approx(
        0.4 * math.log(1.8) + 0.4 * math.log(5), rel=1e-3
    )


def test_a_small_wobble_is_a_small_index():
    assert analysis.population_stability([100, 100, 100, 100], [105, 95, 102, 98]) < 0.01


counts = st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=20).filter(lambda c: sum(c) > 0)


@given(counts, st.integers(min_value=1, max_value=50))
def test_the_same_distribution_gives_zero_whatever_the_traffic(bins, scale):
    assert analysis.population_stability(bins, [b * scale for b in bins]) == pytest.approx(0, abs=1e-12)


@given(st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=10_000))
def test_disjoint_distributions_give_a_large_index(width, total):
    stable = [total] * width + [0] * width
    canary = [0] * width + [total] * width
    assert analysis.population_stability(stable, canary) > 5


def test_no_counts_give_no_index():
    assert analysis.population_stability([0, 0], [1, 2]) is None
    assert analysis.population_stability([1, 2], [1, 2, 3]) is None


def test_a_shift_over_the_limit_fails_the_check_with_its_numbers():
    verdict, reasons = analysis.judge(
        {"canary": {**HEALTHY, "predictionShift": 1.37}}, {**LIMITS, "maxPredictionShift": 0.25}
    )
    assert verdict == analysis.FAIL and reasons == ["canary predictions shifted from stable's: PSI 1.37 > 0.25"]


def test_a_shift_within_the_limit_passes_and_says_so():
    verdict, reasons = analysis.judge(
        {"canary": {**HEALTHY, "predictionShift": 0.02}}, {**LIMITS, "maxPredictionShift": 0.25}
    )
    assert verdict == analysis.PASS and reasons[0].endswith("PSI 0.02 <= 0.25")


def test_without_a_limit_a_shift_is_recorded_but_never_fails():
    verdict, _ = analysis.judge({"canary": {**HEALTHY, "predictionShift": 9.0}}, LIMITS)
    assert verdict == analysis.PASS
    assert analysis.track_numbers({**HEALTHY, "predictionShift": 9.0})["predictionShift"] == 9.0


def test_cumulative_buckets_become_bin_counts():
    result = [{"metric": {"le": le}, "value": [0, str(v)]} for le, v in (("+Inf", 10), ("1.0", 3), ("2.0", 7))]
    assert bin_counts(result) == {1.0: 3.0, 2.0: 4.0, math.inf: 3.0}


def test_bounds_are_the_training_targets_quantiles():
    bounds = prediction_buckets(list(range(1, 101)))
    assert bounds == sorted(set(bounds)) and len(bounds) == 19 and bounds[0] == pytest.approx(5.95)
    assert prediction_buckets([3.0] * 10) == [3.0]
