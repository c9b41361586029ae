"""The rollback window: after a promotion the replaced version stays ready on the previous track,
and going back to it moves all traffic in one sync, with no steps, no analysis and no wait."""

from __future__ import annotations

import pytest

from tests.support.ticked_rollout import NEW, OLD, TickedRollout, new_parent, run_until, started


def promoted(**spec) -> TickedRollout:
    """NEW promoted over OLD, settled, inside its rollback window."""
    rollout = started(new_parent(**spec))
    run_until(rollout, "Stable")
    rollout.tick(20)
    assert rollout.status["stableVersion"] == NEW
    return rollout


def test_the_replaced_version_stays_ready_on_the_previous_track_without_traffic():
    rollout = promoted()
    status = rollout.status
    assert status["previousVersion"] == OLD and status["previous"] == {
        "version": OLD,
        "replicas": 2,
        "readyReplicas": 2,
    }
    assert rollout.deployment_version("previous") == OLD
    assert rollout.traffic() == {NEW: 1.0}


def test_the_previous_track_starts_while_the_promotion_runs():
    rollout = started()
    run_until(rollout, "Promoting")
    assert rollout.deployment_version("previous") == OLD


@pytest.mark.parametrize("how", ["annotation", "spec"])
def test_going_back_moves_all_traffic_to_the_previous_version_in_one_sync(how):
    rollout = promoted()
    assert rollout.traffic() == {NEW: 1.0} and rollout.status["previous"]["readyReplicas"] == 2
    if how == "annotation":
        rollout.annotate("rollback", "r1")
    else:
        rollout.set(version=OLD)
    status = rollout.tick(settle=False)  # one sync; no pod has started or changed since
    assert rollout.traffic() == {OLD: 1.0}
    assert status["stableVersion"] == OLD and status["trafficOnPrevious"] is True
    assert status["canaryVersion"] == "" and status["canaryWeight"] == 0
    if how == "annotation":
        assert (status["phase"], status["reason"], status["failedVersion"]) == ("RolledBack", "RollbackRequested", NEW)
    else:
        assert (status["phase"], status["reason"]) == ("Stable", "VersionReverted") and "failedVersion" not in status


def test_after_a_rollback_the_stable_track_follows_and_the_previous_track_goes():
    rollout = promoted()
    rollout.annotate("rollback", "r1")
    shares = []
    for _ in range(4):
        rollout.tick(5)
        shares.append(rollout.traffic())
    assert shares == [{OLD: 1.0}] * 4
    assert rollout.deployment_version("stable") == OLD and rollout.deployment_version("previous") is None
    status = rollout.status
    assert "previousVersion" not in status and "trafficOnPrevious" not in status and "previous" not in status
    # spec.version still names the version rolled back from: it is not tried again unless asked.
    for _ in range(3):
        assert rollout.tick()["phase"] == "RolledBack" and rollout.status["canaryVersion"] == ""
    rollout.annotate("retry", "t1")
    assert rollout.tick()["canaryVersion"] == NEW


def test_no_request_goes_unanswered_through_promotion_and_rollback():
    rollout = started()
    for _ in range(12):
        rollout.tick()
        assert "unanswered" not in rollout.traffic()
    assert rollout.status["stableVersion"] == NEW
    rollout.annotate("rollback", "r1")
    for _ in range(4):
        rollout.tick(5, settle=False)
        assert "unanswered" not in rollout.traffic()
        rollout.become_ready()
        assert "unanswered" not in rollout.traffic()


def test_the_window_ends_when_it_says_and_then_a_rollback_does_nothing():
    rollout = promoted(rollbackWindow="5m")
    ends = rollout.status["rollbackWindowEndsAt"]
    wait = rollout.cluster.last_response["resyncAfterSeconds"]
    rollout.tick(wait)
    assert rollout.status["rollbackWindowEndsAt"] == ends  # still inside
    rollout.tick(1)
    assert "previousVersion" not in rollout.status and rollout.deployment_version("previous") is None
    rollout.annotate("rollback", "late")
    rollout.tick()
    assert rollout.status["phase"] == "Stable" and rollout.traffic() == {NEW: 1.0}
    assert rollout.status["actions"]["rollback"] == ["late"]


def test_setting_the_version_back_after_the_window_is_a_canary_again():
    rollout = promoted(rollbackWindow="1m")
    rollout.tick(61)
    rollout.set(version=OLD)
    status = rollout.tick()
    assert status["phase"] == "Progressing" and status["canaryVersion"] == OLD


def test_a_previous_track_that_is_not_ready_never_takes_traffic():
    rollout = promoted()
    previous = rollout.cluster.children["Deployment.apps/v1"]["housing-previous"]
    previous["status"]["readyReplicas"] = 0
    rollout.pods["housing-previous"] = (rollout.pods["housing-previous"][0], 0)
    rollout.annotate("rollback", "r1")
    status = rollout.tick(settle=False)
    assert rollout.traffic() == {NEW: 1.0}  # still on the stable track's ready pods
    assert status["stableVersion"] == OLD and "has no ready pod" in status["message"]
    assert "trafficOnPrevious" not in status and "previousVersion" not in status
    rollout.become_ready()
    assert rollout.traffic() == {OLD: 1.0}


def test_a_new_canary_closes_the_window():
    rollout = promoted()
    rollout.set(version="v20261126-093000")
    status = rollout.tick()
    assert status["phase"] == "Progressing" and "previousVersion" not in status
    assert rollout.deployment_version("previous") is None


def test_no_window_without_rollback_window():
    rollout = promoted(rollbackWindow="0s")
    assert "previousVersion" not in rollout.status and rollout.deployment_version("previous") is None
    rollout.annotate("rollback", "r1")
    assert rollout.tick()["phase"] == "Stable" and rollout.traffic() == {NEW: 1.0}


def test_a_rollback_asked_for_mid_canary_does_nothing():
    rollout = started()
    rollout.tick()
    rollout.tick()
    rollout.annotate("rollback", "r1")
    status = rollout.tick()
    assert status["phase"] == "Progressing" and status["canaryVersion"] == NEW


def test_the_readme_shows_the_rollback_transcript_as_the_code_makes_it():
    from tests.support.paths import ROOT
    from tests.support.tick_transcript import rollback_transcript

    lines = rollback_transcript()
    assert "\n".join(lines) in (ROOT / "README.md").read_text()
    rolled = next(line for line in lines if "aurora.dev/rollback " in line)
    assert "RolledBack    1.00   0.00" in rolled  # all traffic on the old version in that one sync


def test_a_partly_ready_previous_track_takes_the_traffic_on_its_ready_pods():
    rollout = promoted()
    rollout.cluster.children["Deployment.apps/v1"]["housing-previous"]["status"]["readyReplicas"] = 1
    rollout.pods["housing-previous"] = (rollout.pods["housing-previous"][0], 1)
    rollout.annotate("rollback", "r1")
    status = rollout.tick(settle=False)
    assert rollout.traffic() == {OLD: 1.0} and status["trafficOnPrevious"] is True
    assert "the 1 ready pods" in status["message"] and rollout.deployment_version("previous") == OLD
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"
