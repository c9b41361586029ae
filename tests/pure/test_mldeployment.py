"""The MLDeployment hook: golden pairs and Flagger-style rollouts replayed tick by tick."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from aurora_api.times import parse_rfc3339
from hooks import decisions, mldeployment
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG_MLD, case_name, cases, mldeployment_sync, response_path
from tests.support.ticked_rollout import (
    BAD,
    DEPLOYMENTS,
    GOOD,
    NEW,
    NEWER,
    OLD,
    QUIET,
    ROUTERS,
    SLOW,
    WORSE,
    TickedRollout,
    new_parent,
    run_until,
    started,
)

CASES = cases("mldeployment")


@pytest.mark.parametrize("path", CASES, ids=[case_name(p) for p in CASES])
def test_golden_pair(path):
    assert mldeployment_sync(json.loads(path.read_text()), path) == json.loads(response_path(path).read_text())


@pytest.mark.parametrize("path", CASES, ids=[case_name(p) for p in CASES])
def test_the_same_request_gives_the_same_response(path):
    request = json.loads(path.read_text())
    assert mldeployment_sync(copy.deepcopy(request), path) == mldeployment_sync(request, path)


# The cluster, played tick by tick (tests/support/ticked_rollout.py)


@pytest.mark.parametrize("router", ROUTERS)
def test_a_healthy_canary_walks_every_step_and_is_promoted_without_dropping_traffic(router):
    rollout = started(router=router)
    weights_seen = []
    for _ in range(12):
        status = rollout.tick()
        weights_seen.append(rollout.weight_on_route())
        if status["phase"] == "Promoting":
            # The canary keeps its weight while the stable track moves to the new version.
            assert rollout.weight_on_route() == 50 and rollout.deployment_version("stable") == NEW
        if status["phase"] == "Stable" and status["stableVersion"] == NEW:
            break
    assert [w for w in weights_seen if w] == sorted(w for w in weights_seen if w)
    assert {10, 50} <= set(weights_seen)
    assert rollout.status["canaryWeight"] == 0 and rollout.weight_on_route() is None
    rollout.tick(11)
    assert rollout.deployment_version("canary") is None and rollout.status["canaryVersion"] == ""
    assert rollout.status["reason"] == "Promoted"


@pytest.mark.parametrize("router", ROUTERS)
def test_a_canary_with_errors_is_rolled_back_within_two_checks_and_stays_rolled_back(router):
    rollout = started(metrics=BAD, router=router)
    run_until(rollout, "RolledBack")
    analysis = rollout.status["analysis"]
    assert analysis["failedChecks"] == 2 and "canary error rate 0.071 > 0.01" in rollout.status["message"]
    assert "2/2 checks failed" in rollout.status["message"]
    assert rollout.weight_on_route() is None and rollout.status["canaryWeight"] == 0
    checks = [verdict for _, _, verdict in rollout.transcript if verdict]
    assert checks.count("Fail") <= 2
    for _ in range(5):
        rollout.tick()
    assert rollout.status["phase"] == "RolledBack" and rollout.deployment_version("canary") is None
    assert rollout.deployment_version("stable") == OLD and rollout.status["failedVersion"] == NEW


@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize("metrics, message", [(SLOW, "canary p99 0.9s > 0.5s"), (WORSE, "clearly worse than stable")])
def test_slow_or_clearly_worse_canaries_fail_their_checks(metrics, message, router):
    rollout = started(metrics=metrics, router=router)
    run_until(rollout, "RolledBack")
    assert message in rollout.status["message"]


@pytest.mark.parametrize("router", ROUTERS)
def test_no_traffic_never_passes_and_never_rolls_back(router):
    rollout = started(rate=QUIET, router=router)
    for _ in range(10):
        rollout.tick()
    assert rollout.status["phase"] == "Progressing" and rollout.status["currentStep"] == 0
    assert rollout.status["analysis"]["verdict"] == "Inconclusive" and rollout.status["analysis"]["failedChecks"] == 0
    assert rollout.weight_on_route() == 10


@pytest.mark.parametrize("router", ROUTERS)
def test_prometheus_down_holds_without_promotion_or_rollback(router):
    rollout = started(metrics=None, router=router)
    for _ in range(10):
        rollout.tick()
    assert rollout.status["phase"] == "Progressing" and rollout.weight_on_route() == 10
    assert "metrics could not be read" in rollout.status["message"]
    assert rollout.cluster.last_response["resyncAfterSeconds"] == decisions.METRICS_RETRY_SECONDS
    rollout.metrics = GOOD
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW


@pytest.mark.parametrize("router", ROUTERS)
def test_abort_rolls_back_at_once_and_retry_starts_again(router):
    rollout = started(router=router)
    rollout.tick()
    rollout.tick()
    rollout.annotate("abort", "stop-1")
    assert rollout.tick(5)["phase"] == "RolledBack" and rollout.weight_on_route() is None
    assert rollout.status["reason"] == "Aborted"
    rollout.tick()
    rollout.tick()
    assert rollout.status["phase"] == "RolledBack"
    rollout.annotate("retry", "again-1")
    assert rollout.tick()["phase"] == "Progressing" and rollout.status["canaryVersion"] == NEW
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW


@pytest.mark.parametrize("router", ROUTERS)
def test_abort_during_promotion_is_recorded_and_ignored(router):
    rollout = started(router=router)
    run_until(rollout, "Promoting", limit=10)
    rollout.canary_ready = True
    rollout.annotate("abort", "too-late")
    status = rollout.tick(1)
    assert status["actions"]["abort"] == ["too-late"]
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW


def test_a_manual_gate_waits_for_promote_and_failures_still_roll_back_there():
    steps = [{"setWeight": 20}, {"pause": {}}]
    rollout = started(new_parent(steps))
    run_until(rollout, "Paused")
    for _ in range(4):
        assert rollout.tick()["phase"] == "Paused"
    rollout.annotate("promote", "ship-it")
    assert rollout.tick(5)["phase"] == "Promoting"
    run_until(rollout, "Stable")

    gated = started(new_parent(steps))
    run_until(gated, "Paused")
    gated.metrics = BAD
    run_until(gated, "RolledBack")


@pytest.mark.parametrize("router", ROUTERS)
def test_spec_paused_holds_the_step_and_resuming_continues(router):
    rollout = started(router=router)
    rollout.tick()
    rollout.set(paused=True)
    for _ in range(6):
        status = rollout.tick()
    assert status["phase"] == "Paused" and status["currentStep"] == 0 and rollout.weight_on_route() == 10
    rollout.set(paused=False)
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW


def test_a_version_change_mid_rollout_restarts_the_canary_with_it():
    rollout = started()
    for _ in range(3):
        rollout.tick()
    rollout.set(version=NEWER)
    status = rollout.tick(5)
    assert status["canaryVersion"] == NEWER and status["canaryWeight"] == 0 and "currentStep" not in status
    assert rollout.deployment_version("canary") == NEWER
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEWER


def test_setting_the_version_back_aborts_the_rollout():
    rollout = started()
    rollout.tick()
    rollout.tick()
    rollout.set(version=OLD)
    status = rollout.tick(5)
    assert status["phase"] == "Stable" and status["canaryWeight"] == 0 and status["reason"] == "VersionReverted"
    rollout.tick(11)
    rollout.tick()
    assert rollout.deployment_version("canary") is None


def test_a_canary_never_ready_is_rolled_back_at_the_progress_deadline():
    parent = new_parent()
    parent["spec"]["canary"]["progressDeadlineSeconds"] = 120
    rollout = started(parent)
    rollout.canary_ready = False
    statuses = [rollout.tick(30)["phase"] for _ in range(6)]
    assert statuses[:4] == ["Progressing"] * 4 and statuses[-1] == "RolledBack"
    assert rollout.status["reason"] == "ProgressDeadlineExceeded"
    assert "not ready after 120s (0/1 ready)" in rollout.status["message"]


def test_an_annotation_value_set_before_the_rollout_never_acts_on_it():
    rollout = TickedRollout(new_parent())
    rollout.annotate("promote", "old")
    rollout.annotate("abort", "old")
    rollout.tick(5)
    rollout.set(version=NEW)
    rollout.tick()
    rollout.tick()
    assert rollout.status["phase"] == "Progressing" and rollout.status["canaryVersion"] == NEW


def test_a_settled_rollout_writes_no_new_status():
    rollout = started()
    run_until(rollout, "Stable")
    rollout.tick(20)
    rollout.tick(600)  # the rollback window (10m) ends
    rollout.tick(20)
    assert "previousVersion" not in rollout.status
    settled = copy.deepcopy(rollout.status)
    for _ in range(5):
        rollout.tick(600)
    assert rollout.status == settled and rollout.cluster.last_response.get("resyncAfterSeconds") is None


def test_a_waiting_step_changes_no_time_field_until_its_check_runs():
    rollout = started()
    rollout.tick()
    rollout.tick()
    before = copy.deepcopy(rollout.status)
    rollout.cluster.tick(rollout.now - timedelta(seconds=25), observations=None)
    assert rollout.status == before


def test_an_invalid_spec_keeps_every_child_exactly_as_it_runs():
    rollout = started()
    rollout.tick()
    rollout.tick()
    observed = copy.deepcopy(rollout.cluster.children)
    rollout.set(replicas=0)
    status = rollout.tick()
    invalid = next(c for c in status["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True" and "spec.replicas 0" in invalid["message"]
    assert rollout.cluster.deleted == [] and set(rollout.cluster.children[DEPLOYMENTS]) == set(observed[DEPLOYMENTS])
    for key, children in observed.items():
        for name, child in children.items():
            assert rollout.cluster.children[key][name]["spec"] == child["spec"]


INVALID = [
    ("decreasing-weights", {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 20}]}}, "steps[1].setWeight 20"),
    ("weight-over-100", {"canary": {"steps": [{"setWeight": 120}]}}, "steps[0].setWeight 120"),
    ("bad-duration", {"canary": {"steps": [{"pause": {"duration": "soon"}}]}}, "steps[0].pause.duration"),
    (
        "two-kinds-in-a-step",
        {"canary": {"steps": [{"setWeight": 5, "pause": {}}]}},
        "exactly one of setWeight, pause or mirror",
    ),
    ("bad-interval", {"canary": {"analysis": {"interval": "0s"}}}, "analysis.interval"),
    ("error-rate-over-1", {"canary": {"analysis": {"maxErrorRate": 2}}}, "analysis.maxErrorRate"),
    ("bad-version", {"version": "latest"}, "spec.version 'latest'"),
    ("ingress-without-host", {"ingress": {"path": "/"}}, "spec.ingress needs a host"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_spec_says_which_field(change, message):
    parent = new_parent(**change)
    response = mldeployment.sync(
        {"parent": parent, "children": {}}, now=FIXED_NOW, observations=None, config=TEST_CONFIG_MLD
    )
    invalid = next(c for c in response["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True" and message in invalid["message"]
    assert response["status"]["phase"] == "Failed" and response["children"] == []


def test_prometheus_is_asked_only_when_a_check_is_due():
    rollout = started()
    for _ in range(3):
        rollout.tick(5)
    assert rollout.queried == 0
    rollout.tick(31)
    rollout.tick(31)
    assert rollout.queried == 1


def test_the_transcript_of_a_healthy_rollout():
    rollout = started()
    run_until(rollout, "Stable")
    phases = [phase for phase, _, _ in rollout.transcript]
    assert phases.index("Progressing") < phases.index("Promoting") < len(phases) - 1
    assert ("Progressing", 10, "Pass") in rollout.transcript and ("Progressing", 50, "Pass") in rollout.transcript


# Rollouts that never hang, and a status that never lies


@pytest.mark.parametrize(
    "change",
    [
        {"canary": {"steps": [], "analysis": {"interval": "30s", "minRequests": 50, "failureLimit": 2}}},
        {
            "canary": {
                "steps": [{"pause": {"duration": "60s"}}, {"setWeight": 10}],
                "analysis": {"interval": "30s", "minRequests": 50, "failureLimit": 2},
            }
        },
        {"ingress": None},
    ],
    ids=["no-steps", "leading-pause", "no-ingress"],
)
def test_a_canary_nobody_can_reach_pauses_after_max_inconclusive_checks(change):
    parent = new_parent(**change)
    if parent["spec"]["ingress"] is None:
        del parent["spec"]["ingress"]
    rollout = started(parent)
    for _ in range(14):
        rollout.tick()
    status = rollout.status
    assert (status["phase"], status["reason"]) == ("Paused", "AnalysisInconclusive")
    assert "10 checks in a row were inconclusive" in status["message"] and "< minRequests 50" in status["message"]
    # It waits there: never promoted on its own, never rolled back.
    for _ in range(5):
        assert rollout.tick()["phase"] == "Paused"
    rollout.annotate("promote", "by-hand")
    assert rollout.tick(5)["phase"] == "Promoting"


def test_max_inconclusive_is_a_setting_and_abort_still_acts_when_paused_so():
    parent = new_parent(steps=[])
    parent["spec"]["canary"]["analysis"]["maxInconclusive"] = 3
    rollout = started(parent)
    run_until(rollout, "Paused", limit=6)
    assert rollout.status["analysis"]["verdict"] == "Inconclusive"
    rollout.annotate("abort", "no")
    assert rollout.tick(5)["phase"] == "RolledBack"


def test_a_new_mldeployment_whose_pods_never_become_ready_is_not_available():
    rollout = TickedRollout(new_parent())
    rollout.stable_ready = False
    for _ in range(4):
        status = rollout.tick(30)
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("False", "StableNotReady")
    assert "0/2" in available["message"]
    assert status["stable"] == {"version": OLD, "replicas": 0, "readyReplicas": 0}
    assert status["desiredVersion"] == OLD


def test_each_track_reports_its_version_and_replicas():
    rollout = started()
    rollout.tick()
    rollout.tick()
    status = rollout.status
    assert status["stable"] == {"version": OLD, "replicas": 2, "readyReplicas": 2}
    assert status["canary"] == {"version": NEW, "replicas": 1, "readyReplicas": 1}
    assert status["desiredVersion"] == NEW


def test_resync_after_a_pause_ended_is_the_time_to_the_next_check():
    steps = [{"setWeight": 10}, {"pause": {"duration": "45s"}}, {"setWeight": 50}]
    rollout = started(new_parent(steps))
    while rollout.status.get("currentStep") != 1:
        rollout.tick()
    paused_at = parse_rfc3339(rollout.status["stepStartedAt"])
    # Traffic dries up: the check 30 s into the pause is inconclusive; the pause ends at 45 s.
    rollout.rate = QUIET
    rollout.now = paused_at + timedelta(seconds=30)
    assert rollout.tick(0)["analysis"]["verdict"] == "Inconclusive"
    rollout.now = paused_at + timedelta(seconds=47)
    rollout.tick(0)
    # The next check is due 60 s into the step: 13 s from now, not a retry for unreadable metrics.
    assert rollout.cluster.last_response["resyncAfterSeconds"] == 13


@pytest.mark.parametrize(
    "field, value",
    [
        ("canaryWeight", "10"),
        ("currentStep", "1"),
        ("analysis", "passed"),
        ("actions", ["promote"]),
        ("stepStartedAt", 1732615200),
        ("phase", 7),
        ("stable", "all"),
    ],
)
def test_a_hand_edited_status_of_the_wrong_type_never_fails_a_sync(field, value):
    rollout = started()
    rollout.tick()
    rollout.tick()
    request = rollout.cluster.request()
    request["parent"]["status"][field] = value
    response = mldeployment.sync(request, now=rollout.now, observations=None, config=TEST_CONFIG_MLD)
    assert response["status"]["canaryVersion"] == NEW and isinstance(response["status"]["canaryWeight"], int)


def test_a_new_rollout_forgets_the_canary_still_draining_from_the_last_one():
    rollout = started()
    run_until(rollout, "Stable")
    assert rollout.status.get("drainingVersion") == NEW
    rollout.set(version=NEWER)
    status = rollout.tick(1)
    assert status["canaryVersion"] == NEWER and "drainingVersion" not in status and "drainingSince" not in status


def paused_for_inconclusive_checks() -> TickedRollout:
    parent = new_parent(steps=[])
    parent["spec"]["canary"]["analysis"]["maxInconclusive"] = 2
    rollout = started(parent)
    run_until(rollout, "Paused", limit=6)
    return rollout


def test_a_held_rollout_keeps_saying_why_when_metrics_cannot_be_read():
    rollout = paused_for_inconclusive_checks()
    message = rollout.status["message"]
    rollout.metrics = None
    for _ in range(3):
        assert rollout.tick()["message"] == message


def test_a_spec_change_ends_the_hold_and_the_count_starts_again():
    rollout = paused_for_inconclusive_checks()
    rollout.set(paused=True)
    status = rollout.tick(1)
    # Now paused by the spec, no longer for inconclusive checks.
    assert status["phase"] == "Paused" and "pausedGeneration" not in status and status.get("reason", "") == ""
    assert "inconclusiveChecks" not in status["analysis"]


def test_hand_edited_numbers_of_a_held_rollout_never_fail_a_sync():
    rollout = paused_for_inconclusive_checks()
    request = rollout.cluster.request()
    request["parent"]["status"]["phase"] = "Progressing"
    request["parent"]["status"]["analysis"]["canary"]["requests"] = "many"
    response = mldeployment.sync(request, now=rollout.now, observations=None, config=TEST_CONFIG_MLD)
    assert response["status"]["phase"] == "Paused" and "canary served 0 requests" in response["status"]["message"]


def test_a_bogus_recorded_version_never_reaches_a_deployment():
    rollout = TickedRollout(new_parent())
    rollout.tick(5)
    request = rollout.cluster.request()
    request["parent"]["status"]["stableVersion"] = "bogus"
    response = mldeployment.sync(request, now=rollout.now, observations=None, config=TEST_CONFIG_MLD)
    versions = {
        c["spec"]["template"]["metadata"]["labels"]["aurora.dev/model-version"]
        for c in response["children"]
        if c["kind"] == "Deployment"
    }
    assert versions == {OLD} and response["status"]["stableVersion"] == OLD


# Re-created MLDeployments: the old one's children may still hold the names


def test_children_whose_creates_did_not_happen_are_asked_for_again_until_they_exist():
    parent = new_parent()
    parent["metadata"]["creationTimestamp"] = FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    rollout = TickedRollout(parent)
    rollout.tick(2, settle=False)
    # The old MLDeployment's children held the names: every create failed.
    for group in rollout.cluster.children.values():
        group.clear()
    rollout.tick(2, settle=False)
    response = rollout.cluster.last_response
    assert response["resyncAfterSeconds"] == 2.0
    available = next(c for c in rollout.status["conditions"] if c["type"] == "Available")
    assert "the stable Deployment is not created yet" in available["message"]
    # Created at last: served once ready, and no more syncs asked for.
    rollout.become_ready()
    status = rollout.tick(2)
    assert (status["phase"], status["ready"]) == ("Stable", "2/2")
    assert "resyncAfterSeconds" not in rollout.cluster.last_response
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert (available["status"], available["reason"]) == ("True", "StableReady")


def test_a_promoted_canary_drains_as_it_runs_without_new_pods():
    # Its pods count predictions on the stable version's bounds; the promotion changes that
    # version, and a rebuilt template would roll new canary pods just before their removal.
    rollout = started()
    run_until(rollout, "Promoting")
    template = copy.deepcopy(rollout.cluster.children[DEPLOYMENTS]["housing-canary"]["spec"])
    updates = len(rollout.cluster.updated)
    run_until(rollout, "Stable")
    assert rollout.status.get("drainingSince")
    canary = rollout.cluster.children[DEPLOYMENTS]["housing-canary"]
    assert canary["spec"] == template
    assert f"{DEPLOYMENTS}/housing-canary" not in rollout.cluster.updated[updates:]
    rollout.tick(11)
    assert "housing-canary" not in rollout.cluster.children[DEPLOYMENTS]
