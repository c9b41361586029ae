"""bench/scale's reading of a rollout from its MLDeployment's statuses, list after list."""

from __future__ import annotations

from bench.scaling.tracker import Tracker

OLD, NEW = "v20261101-120000", "v20261201-120000"
STARTED = 1_796_380_800.0  # 2026-12-04T10:40:00Z, when the version was changed


def status(step_started: str | None = None, check: str | None = None, **fields) -> dict:
    found = {"desiredVersion": NEW, "canaryVersion": NEW, "canaryWeight": 20, "phase": "Progressing", **fields}
    if step_started:
        found["stepStartedAt"] = step_started
    if check:
        found["analysis"] = {"time": check}
    return found


def follow(statuses: list[dict], interval: int = 10):
    tracker = Tracker(kube=None, interval=interval)
    tracker.expect("ns/m", OLD, STARTED)
    for i, found in enumerate(statuses):
        tracker.observe("ns/m", {"status": found}, STARTED + i)
    return tracker.timelines["ns/m"]


def test_each_check_is_measured_against_when_the_hook_would_have_it_due():
    line = follow(
        [
            status("2026-12-04T10:40:02Z"),
            # Due at :12 (the step's start + 10 s), ran at :13.
            status("2026-12-04T10:40:02Z", "2026-12-04T10:40:13Z"),
            # The passing check moved to the next step at :23: due at :23, on time.
            status("2026-12-04T10:40:23Z", "2026-12-04T10:40:23Z"),
            # Due at :33 (the step's start and the last check are both :23), ran at :40.
            status("2026-12-04T10:40:23Z", "2026-12-04T10:40:40Z"),
        ]
    )
    assert line.lags == [1.0, 0.0, 7.0]
    assert line.first_weight == STARTED


def test_a_check_of_an_earlier_rollout_is_not_counted_and_the_outcome_is_recorded():
    earlier = "2026-12-04T09:00:00Z"
    line = follow(
        [
            status(check=earlier, canaryWeight=0),
            status("2026-12-04T10:40:02Z", earlier),
            status(check="2026-12-04T10:40:12Z", phase="RolledBack", canaryVersion="", failedVersion=NEW),
        ]
    )
    assert line.lags == [0.0]
    assert (line.outcome, line.ended) == ("RolledBack", STARTED + 2)
    # The weight came with the first step, at the second list.
    assert line.first_weight == STARTED + 1


def test_a_status_written_from_a_stale_copy_is_counted_apart_and_not_as_a_check():
    line = follow(
        [
            status("2026-12-04T10:40:02Z"),
            status("2026-12-04T10:40:02Z", "2026-12-04T10:40:12Z"),
            # Written from a copy of the object from before that check: its check is older.
            status("2026-12-04T10:40:02Z", "2026-12-04T10:40:11Z"),
            status("2026-12-04T10:40:02Z", "2026-12-04T10:40:12Z"),
            status("2026-12-04T10:40:02Z", "2026-12-04T10:40:22Z"),
        ]
    )
    assert line.lags == [0.0, 0.0]
    assert line.went_back == 1


def test_a_check_repeated_by_a_sync_on_a_stale_copy_is_counted_apart():
    line = follow(
        [
            status("2026-12-04T10:40:02Z"),
            status("2026-12-04T10:40:12Z", "2026-12-04T10:40:12Z"),
            # A sync that saw the object from before :12 found the check due and ran it again.
            status("2026-12-04T10:40:13Z", "2026-12-04T10:40:13Z"),
            status("2026-12-04T10:40:13Z", "2026-12-04T10:40:23Z"),
        ]
    )
    assert line.lags == [0.0, 0.0]
    assert line.repeated == 1


def test_only_this_runs_mldeployments_count_as_settled():
    tracker = Tracker(kube=None, interval=10)
    settled = {"phase": "Stable", "ready": "1/1"}
    tracker.observe("ns/m", {"status": settled}, STARTED)
    # An earlier run's object, still being deleted, carries the same label.
    tracker.observe("old/m", {"status": settled}, STARTED)
    assert tracker.settled({"ns/m", "ns/n"}) == 1


def test_the_new_version_is_the_one_the_mldeployment_resolved_from_its_new_run():
    line = follow(
        [
            # The new run has not published yet: the MLDeployment still resolves the old version.
            {"desiredVersion": OLD, "stableVersion": OLD, "phase": "Stable"},
            {"desiredVersion": OLD, "stableVersion": OLD, "phase": "Stable"},
            status(canaryWeight=0),
            status("2026-12-04T10:40:03Z"),
        ]
    )
    assert (line.version, line.resolved) == (NEW, STARTED + 2)
    assert (line.canary_started, line.first_weight) == (STARTED + 2, STARTED + 3)
