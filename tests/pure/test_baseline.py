"""A canary judged against the stable track: the sequential test's promise, and what a user sees."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hooks import analysis
from hooks.baseline import Evidence, Sums, count_above, error_window, quantile, read_evidence
from hooks.deployment_spec import spec_errors, with_defaults
from tests.support.ticked_rollout import GOOD, new_parent, run_until, started

AGAINST_STABLE = {
    "interval": "30s",
    "minRequests": 50,
    "maxInconclusive": 10,
    "failureLimit": 1,
    "baseline": "stable",
    "maxErrorRateIncrease": 0.01,
    "maxLatencyIncrease": 0.2,
    "confidence": 0.95,
}
BAD_DAY = {"canary": {"errorRate": 0.05, "latencyP99": 0.04}, "stable": {"errorRate": 0.05, "latencyP99": 0.04}}
WORSE_BY_5 = {**GOOD, "canary": {"errorRate": 0.052, "latencyP99": 0.04}}


def healthy_runs(looks: int, runs: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a canary exactly at the allowed increase over stable: (canary, stable) errors."""
    rng = np.random.default_rng(seed)
    return rng.binomial(60, 0.02, size=(runs, looks)), rng.binomial(540, 0.01, size=(runs, looks))


def test_a_canary_no_worse_than_allowed_is_failed_at_most_one_minus_confidence_however_often_looked_at():
    canary, stable = healthy_runs(looks=40, runs=2000)
    crossed = peeked = 0
    for c_row, s_row in zip(canary, stable, strict=True):
        sums, alarm, z_alarm = Sums(), False, False
        for e_c, e_s in zip(c_row, s_row, strict=True):
            sums = sums.plus(error_window(60, e_c, 540, e_s))
            alarm = alarm or sums.exceeds(0.01, 0.95)
            # What a fixed-sample one-sided z-test at 95 % would say at each look.
            shown = sums.observed - 0.01 * sums.weight
            z_alarm = z_alarm or (sums.variance > 0 and shown / math.sqrt(sums.variance) > 1.645)
        crossed += alarm
        peeked += z_alarm
    assert crossed / 2000 <= 0.05, crossed
    # Looking at a fixed-sample test every window adds up its false alarms: what the test avoids.
    assert peeked / 2000 > 0.1, peeked


def test_a_bad_day_for_both_tracks_passes_against_stable_and_fails_the_ceilings():
    observed = {track: {"requests": 3000.0, **numbers} for track, numbers in BAD_DAY.items()}
    verdict, reasons, _ = analysis.judge_against_stable(observed, AGAINST_STABLE, Evidence())
    assert verdict == "Pass", reasons
    threshold = with_defaults({"canary": {"analysis": {}}})["canary"]["analysis"]
    assert analysis.judge(observed, threshold)[0] == "Fail"


def test_an_excess_over_stable_fails_naming_the_comparison_and_its_lower_bound():
    observed = {
        "canary": {"requests": 600.0, "errorRate": 0.07},
        "stable": {"requests": 5400.0, "errorRate": 0.02},
    }
    verdict, reasons, evidence = analysis.judge_against_stable(observed, AGAINST_STABLE, Evidence())
    assert verdict == "Fail"
    assert "canary error rate exceeds stable's by 0.05" in reasons[0] and "at 0.95 confidence) > 0.01" in reasons[0]
    assert 0.01 < evidence.errors.lower_bound(0.95) < 0.05


def test_evidence_adds_up_over_checks_and_few_requests_so_far_are_inconclusive():
    window = {"canary": {"requests": 30.0, "errorRate": 0.0}, "stable": {"requests": 270.0, "errorRate": 0.0}}
    verdict, reasons, evidence = analysis.judge_against_stable(window, AGAINST_STABLE, Evidence())
    assert verdict == "Inconclusive" and "canary served 30 requests so far < minRequests 50" in reasons[0]
    verdict, _, evidence = analysis.judge_against_stable(window, AGAINST_STABLE, evidence)
    assert verdict == "Pass" and evidence.requests == 60


def test_a_canary_slower_than_stables_p99_plus_the_allowance_fails():
    bounds = (0.025, 0.05, 0.1, 0.25, 0.5, math.inf)
    stable = list(zip(bounds, (5000.0, 9700.0, 9990.0, 10000.0, 10000.0, 10000.0), strict=True))
    canary = list(zip(bounds, (100.0, 600.0, 900.0, 990.0, 1000.0, 1000.0), strict=True))
    observed = {
        "canary": {"requests": 1000.0, "errorRate": 0.0, "latencyBuckets": canary},
        "stable": {"requests": 10000.0, "errorRate": 0.0, "latencyBuckets": stable},
    }
    verdict, reasons, _ = analysis.judge_against_stable(observed, AGAINST_STABLE, Evidence())
    assert verdict == "Fail" and "slower than stable's p99 + 20%" in reasons[0]
    observed["canary"]["latencyBuckets"] = [(le, count / 10) for le, count in stable]
    assert analysis.judge_against_stable(observed, AGAINST_STABLE, Evidence())[0] == "Pass"


def test_histogram_readings_interpolate_inside_a_bucket_as_prometheus_does():
    buckets = [(0.1, 50.0), (0.2, 100.0), (math.inf, 100.0)]
    assert quantile(buckets, 0.75) == pytest.approx(0.15)
    assert count_above(buckets, 0.15) == pytest.approx(25.0)
    assert quantile([(math.inf, 0.0)], 0.99) is None


def test_unreadable_recorded_evidence_starts_from_nothing():
    assert read_evidence({"requests": "many"}) == Evidence()
    assert read_evidence({"requests": 10, "errors": {"weight": -1, "observed": 0, "variance": 0}}).errors == Sums()


def test_with_a_baseline_the_ceilings_apply_only_when_written_and_one_failure_decides():
    defaults = with_defaults({"canary": {"analysis": {"baseline": "stable"}}})["canary"]["analysis"]
    assert "maxErrorRate" not in defaults and "maxLatencyP99Seconds" not in defaults
    assert (defaults["failureLimit"], defaults["confidence"], defaults["maxErrorRateIncrease"]) == (1, 0.95, 0.01)
    written = with_defaults({"canary": {"analysis": {"baseline": "stable", "maxErrorRate": 0.2}}})
    assert written["canary"]["analysis"]["maxErrorRate"] == 0.2


@pytest.mark.parametrize(
    "analysis_spec, message",
    [
        ({"baseline": "canary"}, "spec.canary.analysis.baseline 'canary' must be one of stable"),
        ({"baseline": "stable", "confidence": 1}, "confidence must be below 1"),
        ({"baseline": "stable", "confidence": 0.2}, "confidence 0.2 must be a number from 0.5 to 1"),
        ({"baseline": "stable", "maxErrorRateIncrease": 2}, "maxErrorRateIncrease 2 must be a number from 0 to 1"),
    ],
)
def test_a_baseline_spec_out_of_range_says_which_field(analysis_spec, message):
    parent = new_parent()
    parent["spec"]["canary"]["analysis"] = analysis_spec
    spec = with_defaults(parent["spec"])
    assert any(message in error for error in spec_errors(spec, "housing", []))


def baseline_parent() -> dict:
    parent = new_parent()
    parent["spec"]["canary"]["analysis"] = {"interval": "30s", "minRequests": 50, "baseline": "stable"}
    return parent


def test_a_rollout_against_stable_on_a_bad_day_is_promoted_with_both_tracks_in_its_status():
    rollout = started(parent=baseline_parent(), metrics=BAD_DAY)
    run_until(rollout, "Promoting")
    check = rollout.status["analysis"]
    assert check["stable"]["errorRate"] == 0.05 and check["canary"]["errorRate"] == 0.05
    assert check["thresholds"]["baseline"] == "stable" and check["evidence"]["requests"] > 0
    assert check["evidence"]["errors"]["lowerBound"] < 0.01


def test_a_canary_worse_than_stable_is_rolled_back_saying_so():
    rollout = started(parent=baseline_parent(), metrics=WORSE_BY_5)
    run_until(rollout, "RolledBack")
    assert rollout.status["reason"] == "CanaryWorseThanStable"
    assert "exceeds stable's by 0.05" in rollout.status["message"]
    assert rollout.status["analysis"]["failedChecks"] == 1
