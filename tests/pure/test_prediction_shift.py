"""Prediction-shift analysis: the population stability index and the check built on it."""

from __future__ import annotations

import math
import random

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


def test_chance_alone_is_about_the_used_bins_less_one_over_the_samples():
    # 4 bins used, 40 canary and 160 stable predictions: 3 * (1/40 + 1/160).
    assert analysis.shift_noise([40, 40, 40, 40, 0], [10, 10, 10, 10, 0]) == pytest.approx(3 * (1 / 40 + 1 / 160))
    assert analysis.shift_noise([0, 0], [1, 2]) is None


def test_a_sample_too_small_for_the_limit_is_inconclusive_not_a_failure():
    # 22 canary predictions over 15 bins: chance alone gives a PSI near 0.7, over a limit of 0.5.
    canary = {**HEALTHY, "predictionShift": 0.81, "predictionShiftNoise": 0.72}
    verdict, reasons = analysis.judge({"canary": canary}, {**LIMITS, "maxPredictionShift": 0.5})
    assert verdict == analysis.INCONCLUSIVE
    assert reasons == [
        "too few predictions to judge a shift: PSI 0.81, of which chance alone gives about 0.72, against the limit 0.5"
    ]


def test_a_large_shift_fails_even_on_a_sample_too_small_to_pass_one():
    # 190 predictions: chance alone gives about 0.14, over half a limit of 0.25, yet 14.5 is no chance.
    canary = {**HEALTHY, "predictionShift": 14.5, "predictionShiftNoise": 0.14}
    verdict, _ = analysis.judge({"canary": canary}, {**LIMITS, "maxPredictionShift": 0.25})
    assert verdict == analysis.FAIL


def test_a_small_shift_passes_only_on_enough_predictions():
    judged = {
        noise: analysis.judge(
            {"canary": {**HEALTHY, "predictionShift": 0.1, "predictionShiftNoise": noise}},
            {**LIMITS, "maxPredictionShift": 0.25},
        )[0]
        for noise in (0.05, 0.2)
    }
    assert judged == {0.05: analysis.PASS, 0.2: analysis.INCONCLUSIVE}


def test_errors_fail_a_check_however_few_the_predictions():
    canary = {**HEALTHY, "errorRate": 0.2, "predictionShift": 0.1, "predictionShiftNoise": 5.0}
    verdict, _ = analysis.judge({"canary": canary}, {**LIMITS, "maxPredictionShift": 0.5})
    assert verdict == analysis.FAIL


def test_samples_of_one_distribution_are_rarely_found_shifted_at_the_sizes_judged():
    """2,000 seeded pairs of samples of one distribution over 15 bins, of any sizes from 5 to
    3,000: where the check judges the shift at all (limit 0.25), it fails well under 0.5 % of them
    (6 of the 18,434 judged among 20,000 such pairs, each with one sample under 70)."""
    rng, judged, failed = random.Random(20261204), 0, 0
    for _ in range(2000):
        weights = [rng.random() for _ in range(15)]
        stable, canary = [0] * 15, [0] * 15
        for counts in (stable, canary):
            for index in rng.choices(range(15), weights, k=rng.randint(5, 3000)):
                counts[index] += 1
        shift, noise = analysis.population_stability(stable, canary), analysis.shift_noise(stable, canary)
        observed = {"canary": {**HEALTHY, "predictionShift": shift, "predictionShiftNoise": noise}}
        verdict, _ = analysis.judge(observed, {**LIMITS, "maxPredictionShift": 0.25})
        judged += verdict != analysis.INCONCLUSIVE
        failed += verdict == analysis.FAIL
    assert judged > 1000 and failed / judged < 0.005, (judged, failed)
