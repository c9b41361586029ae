"""`kubectl aurora`: its trees rendered from recorded MLDeployments (golden text), its rules, and
its commands against the real control plane of the cluster tier."""

from __future__ import annotations

import os

import pytest

from kubectl_aurora import actions, render
from tests.support.hook_fixtures import FIXED_NOW, RECORDED, recorded

CASES = sorted(p.stem for p in RECORDED.glob("mld-*.json"))


def rendered(name: str) -> str:
    return "\n".join(render.deployment_tree(recorded(name), FIXED_NOW)) + "\n"


@pytest.mark.parametrize("name", CASES)
def test_the_tree_of_a_recorded_rollout_is_its_golden_text(name):
    golden = RECORDED / f"{name}.txt"
    if os.environ.get("AURORA_REGENERATE"):
        golden.write_text(rendered(name))
    assert rendered(name) == golden.read_text()


def test_a_healthy_rollout_shows_its_step_its_numbers_against_their_thresholds_and_the_next_check():
    text = rendered("mld-healthy")
    assert "▶ pause 60s (50s left)" in text and "weight 10%" in text
    assert "error rate 0.002 (max 0.01)" in text and "requests 300 (min 50)" in text
    assert "next check in 20s" in text


def test_a_failed_rollout_says_why_with_the_deciding_number():
    text = rendered("mld-rolled-back")
    assert "RolledBack (AnalysisFailed)" in text and "error rate 0.071 (max 0.01)" in text
    assert "failed checks 2/2" in text and "draining" in text


def test_a_paused_rollout_says_what_it_waits_for():
    text = rendered("mld-paused")
    assert "Paused (AnalysisInconclusive)" in text and "requests 0 (min 50)" in text
    assert "waiting for aurora.dev/promote" in text


def test_a_promoted_rollout_shows_the_rollback_window_left():
    text = rendered("mld-promoted-in-window")
    assert "previous   v20261101-120000  2/2 ready    no traffic (rollback ready)" in text
    assert "9m09s left" in text


def test_colours_only_when_asked():
    coloured = render.deployment_tree(recorded("mld-rolled-back"), FIXED_NOW, render.Paint(True))
    assert "\033[31mRolledBack\033[0m" in coloured[0] and "\033[" not in rendered("mld-rolled-back")


@pytest.mark.parametrize(
    "action, case, refused",
    [
        ("promote", "mld-healthy", None),
        ("abort", "mld-paused", None),
        ("promote", "mld-rolled-back", "promote acts on a rollout in progress; ml/housing is RolledBack"),
        ("retry", "mld-rolled-back", None),
        ("retry", "mld-healthy", "retry starts a rolled-back canary again; ml/housing is Progressing"),
        ("rollback", "mld-promoted-in-window", None),
        ("rollback", "mld-healthy", "no rollback window is open"),
    ],
)
def test_actions_are_refused_where_the_phase_makes_them_meaningless(action, case, refused):
    said = actions.refusal(action, recorded(case), FIXED_NOW)
    assert said == refused if refused is None else refused in said


@pytest.mark.parametrize(
    "goal, case, outcome",
    [
        ("promoted", "mld-promoted-in-window", (True, None)),
        ("stable", "mld-promoted-in-window", (True, None)),
        ("rolledback", "mld-rolled-back", (True, None)),
        ("promoted", "mld-healthy", (False, None)),
        ("rolledback", "mld-promoted-in-window", (False, "promoted instead")),
    ],
)
def test_wait_knows_when_a_rollout_reached_its_goal_or_never_will(goal, case, outcome):
    assert actions.wait_outcome(goal, recorded(case)) == outcome


def test_a_rollout_that_rolled_back_can_no_longer_be_promoted():
    done, failure = actions.wait_outcome("promoted", recorded("mld-rolled-back"))
    assert not done and failure.startswith("rolled back: canary error rate 0.071")


def test_the_readme_shows_the_watch_as_the_plugin_draws_it():
    from tests.support.paths import ROOT
    from tests.support.tick_transcript import plugin_cast

    frames = "\n".join(plugin_cast()).split("--- ")
    shown = [
        f"--- {frame}".rstrip("\n") for frame in frames if frame.startswith(("the sync at 93s", "the sync at 155s"))
    ]
    readme = (ROOT / "README.md").read_text()
    assert len(shown) == 2 and all(frame in readme for frame in shown)


def test_every_kubectl_aurora_command_in_the_readme_is_one_the_plugin_takes():
    import shlex

    from kubectl_aurora.cli import parser
    from tests.support.paths import ROOT

    commands = [
        line.split("#")[0].strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("kubectl aurora ")
    ]
    assert len(commands) >= 7
    for command in commands:
        parser().parse_args(shlex.split(command)[2:])  # exits (fails the test) on a wrong command


def test_wait_does_not_trust_a_status_written_before_the_latest_spec():
    mld = recorded("mld-promoted-in-window")
    mld["metadata"]["generation"] = mld["status"]["observedGeneration"] + 1  # a new version just applied
    assert actions.wait_outcome("promoted", mld) == (False, None)


def test_a_rollout_judged_against_stable_shows_both_tracks_and_the_evidence_beside_the_allowance():
    text = rendered("mld-worse-than-stable")
    assert "RolledBack (CanaryWorseThanStable)" in text
    assert "canary error rate 0.052 p99 0.04s, stable 0.002 p99 0.04s" in text
    assert "error rate +0.05 on stable's (at least +0.0207; allowed +0.01)" in text
    # No ceiling was written: none is shown.
    assert "(max" not in text
