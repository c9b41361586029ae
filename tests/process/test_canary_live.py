"""Canary analysis against real parts: real aurora-serve processes scraped by a real Prometheus."""

from __future__ import annotations

from tests.support.live_canary import AGAINST_STABLE, CANARY_VERSION, INTERVAL_SECONDS, live_setup, run_rollout


def test_a_healthy_canary_advances_and_is_promoted():
    with live_setup(fault_error_rate=0.0) as prometheus_url:
        result = run_rollout(prometheus_url, until={"Stable", "RolledBack"})
    status = result["status"]
    assert status["phase"] == "Stable" and status["stableVersion"] == "v20261126-090000", result["timeline"]
    weights = [weight for _, _, weight, _, _ in result["timeline"]]
    assert 10 in weights and 50 in weights
    assert any(verdict == "Pass" for _, _, _, verdict, _ in result["timeline"])


def test_a_canary_with_20_percent_errors_is_rolled_back_within_two_intervals():
    with live_setup(fault_error_rate=0.2) as prometheus_url:
        result = run_rollout(prometheus_url, until={"Stable", "RolledBack"})
    status = result["status"]
    assert status["phase"] == "RolledBack", result["timeline"]
    assert status["reason"] == "AnalysisFailed" and "canary error rate" in status["message"]
    assert status["canaryWeight"] == 0
    assert 0.1 < status["analysis"]["canary"]["errorRate"] < 0.35
    # From the first weight on the canary (the fault's onset for users) to weight 0.
    assert result["endedAt"] - result["weightAt"] <= 2 * INTERVAL_SECONDS + 1.5, result["timeline"]


# Against stable the evidence adds up check by check: each weight is held for three checks.
HELD_STEPS = [{"setWeight": 10}, {"pause": {"duration": "9s"}}, {"setWeight": 50}, {"pause": {"duration": "9s"}}]


def test_against_stable_a_bad_day_for_both_tracks_is_promoted():
    with live_setup(fault_error_rate=0.05, stable_error_rate=0.05) as prometheus_url:
        result = run_rollout(
            prometheus_url, until={"Stable", "RolledBack"}, judged=AGAINST_STABLE, steps=HELD_STEPS, limit_seconds=60
        )
    status = result["status"]
    assert status["phase"] == "Stable" and status["stableVersion"] == CANARY_VERSION, result["timeline"]
    # Both tracks failed alike, well over the 1 % a ceiling would allow.
    assert 0.02 < status["analysis"]["stable"]["errorRate"] < 0.1
    assert 0.02 < status["analysis"]["canary"]["errorRate"] < 0.1


def test_against_stable_a_canary_failing_5_points_more_is_rolled_back_with_its_evidence():
    with live_setup(fault_error_rate=0.10, stable_error_rate=0.05) as prometheus_url:
        result = run_rollout(
            prometheus_url, until={"Stable", "RolledBack"}, judged=AGAINST_STABLE, steps=HELD_STEPS, limit_seconds=60
        )
    status = result["status"]
    assert status["phase"] == "RolledBack" and status["reason"] == "CanaryWorseThanStable", result["timeline"]
    errors = status["analysis"]["evidence"]["errors"]
    assert 0.01 < errors["lowerBound"] < errors["estimate"] < 0.1
    assert "exceeds stable's by" in status["message"]
