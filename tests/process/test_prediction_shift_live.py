"""Prediction shift against real parts: two aurora-serve processes with different models, a real
Prometheus scraping their prediction histograms, live traffic, and the hook's own Prometheus client.

A canary trained on a corrupted target answers fast and with 200s, so error rate and latency pass;
it is rolled back on its predictions alone, while it only shadows stable (a mirror step: it
never takes a user's request). A retrained equivalent model shadows, then takes weight, and is
promoted. The two timelines are written to var/prediction-shift-live.txt.
"""

from __future__ import annotations

import pytest

from tests.support.datasets import shifted_diabetes
from tests.support.live_canary import live_setup, run_rollout
from tests.support.paths import ROOT

MAX_SHIFT = 0.25
# Shadow first: two failed checks (3 s apart) fit well inside the mirror step.
STEPS = [{"mirror": {"duration": "12s"}}, {"setWeight": 10}, {"setWeight": 50}]
REPORT = ROOT / "var" / "prediction-shift-live.txt"


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    """builtin:diabetes with its target moved up by 150: the same features, other answers."""
    return f"csv:{shifted_diabetes(tmp_path_factory.mktemp('data') / 'diabetes-shifted.csv')}:target"


def describe(label: str, result: dict) -> str:
    lines = [f"{label}: {result['status']['phase']} ({result['status'].get('reason')}) after {result['endedAt']:.1f}s"]
    for elapsed, phase, weight, verdict, numbers in result["timeline"]:
        lines.append(f"  {elapsed:5.1f}s  {phase:<11} weight {weight:<3} {verdict or '-':<12} {numbers or ''}")
    return "\n".join(lines + [f"  message: {result['status']['message']}"])


def test_a_canary_with_shifted_predictions_is_rolled_back_on_them_alone_and_an_equivalent_one_is_promoted(corrupted):
    with live_setup(canary_dataset=corrupted) as prometheus_url:
        shifted = run_rollout(prometheus_url, until={"Stable", "RolledBack"}, max_shift=MAX_SHIFT, steps=STEPS)
    status = shifted["status"]
    assert (status["phase"], status["reason"]) == ("RolledBack", "AnalysisFailed"), shifted["timeline"]
    assert "canary predictions shifted from stable's: PSI" in status["message"]
    canary = status["analysis"]["canary"]
    assert canary["predictionShift"] > MAX_SHIFT
    # Fast and answering: nothing but its predictions failed it.
    assert canary["errorRate"] == 0 and canary["latencyP99"] < 0.5
    # Judged while shadowing: no user ever got one of its answers.
    assert shifted["weightAt"] is None and {weight for _, _, weight, *_ in shifted["timeline"]} == {0}

    with live_setup(canary_seed=7) as prometheus_url:
        equivalent = run_rollout(
            prometheus_url, until={"Stable", "RolledBack"}, max_shift=MAX_SHIFT, steps=STEPS, limit_seconds=60
        )
    status = equivalent["status"]
    assert (status["phase"], status["reason"]) == ("Stable", "Promoted"), equivalent["timeline"]
    assert equivalent["weightAt"] > 12  # weight only after the mirror step
    shifts = [n["predictionShift"] for *_, n in equivalent["timeline"] if n and "predictionShift" in n]
    assert shifts and max(shifts) < MAX_SHIFT

    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(
        describe("canary trained on a target moved by +150, mirror step first", shifted)
        + "\n\n"
        + describe("canary retrained on the same data (seed 7), mirror step first", equivalent)
        + "\n"
    )
