"""Every state in which a hook waits for something Metacontroller does not watch asks for a resync.

Metacontroller syncs a parent again when the parent, one of its children or one of its related
objects changes; anything else (time passing, Prometheus's numbers, an old object of another
owner going away) reaches the hook only through `resyncAfterSeconds`. The audit, state by state:

| waiting for                                   | watched by Metacontroller     | resync       |
|-----------------------------------------------|-------------------------------|--------------|
| an older run of the model to choose a version | yes (related run), and time   | 2 s          |
| a Job whose create did not happen             | no (an object of other owner) | 2 s, to 30 s |
| the end of a finished run's retention         | no (time)                     | at the end   |
| children whose creates did not happen         | no (objects of other owners)  | 2 s, to 30 s |
| a canary to become ready, or its deadline     | ready: yes; deadline: no      | the deadline |
| the next check (analysis interval)            | no (time, Prometheus)         | the check    |
| the end of a pause                            | no (time)                     | the pause    |
| Prometheus, after a failed read               | no                            | 10 s         |
| a drained canary to be removed                | no (time)                     | the drain    |
| the end of the rollback window                | no (time)                     | the end      |
| a training run to publish (versionFrom)       | yes (related run)             | none         |
| the stable track to roll out (promotion)      | yes (child Deployment)        | none         |
| a Gateway that can mirror                     | yes (route status, classes)   | none         |
| promote / abort / a spec change               | yes (the parent)              | none         |

The test of the first kind of each row is below; the watched rows are the tick tests of their
features and, on the real Metacontroller, the cluster tests.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from hooks import decisions
from tests.support.hook_fixtures import FIXED_NOW
from tests.support.ticked_rollout import NEW, TickedRollout, new_parent, started
from tests.support.training_requests import BASE, JOBS, stamp, stamped, sync, with_sibling


def resync_of(rollout: TickedRollout) -> float | None:
    return rollout.cluster.last_response.get("resyncAfterSeconds")


def test_a_run_waiting_for_an_older_run_of_its_model_looks_again_in_2_seconds():
    request = with_sibling(stamped(copy.deepcopy(BASE), stamp(FIXED_NOW)), stamp(FIXED_NOW - timedelta(seconds=1)))
    assert sync(request)["resyncAfterSeconds"] == 2.0


def test_a_run_whose_job_is_missing_looks_again_soon_then_less_often():
    young = stamped(copy.deepcopy(BASE), stamp(FIXED_NOW - timedelta(seconds=5)))
    old = stamped(copy.deepcopy(BASE), stamp(FIXED_NOW - timedelta(hours=1)))
    assert (sync(young)["resyncAfterSeconds"], sync(old)["resyncAfterSeconds"]) == (2.0, 30.0)


def test_a_finished_run_looks_again_when_its_retention_ends():
    request = copy.deepcopy(BASE)
    done = FIXED_NOW - timedelta(seconds=100)
    request["parent"]["spec"]["ttlSecondsAfterFinished"] = 3600
    request["parent"]["status"] = {
        "phase": "Succeeded",
        "modelVersion": "v20261126-100000",
        "completionTime": stamp(done),
    }
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "diabetes-gb-train"}, "status": {}}
    request["children"][JOBS] = {"diabetes-gb-train": job}
    assert sync(request)["resyncAfterSeconds"] == 3500.0


def test_an_mldeployment_whose_children_are_missing_looks_again_soon():
    parent = new_parent()
    parent["metadata"]["creationTimestamp"] = stamp(FIXED_NOW)
    rollout = TickedRollout(parent)
    rollout.tick(settle=False)
    assert resync_of(rollout) == 2.0


def quiet_tick(rollout: TickedRollout, seconds: float, settle: bool = True) -> float | None:
    """A tick that creates no child (a tick that does asks for a resync of its own), its resync."""
    created = len(rollout.cluster.created)
    rollout.tick(seconds, settle)
    assert len(rollout.cluster.created) == created, rollout.cluster.created[created:]
    return resync_of(rollout)


def test_a_canary_not_ready_yet_is_looked_at_again_at_its_deadline():
    rollout = started()
    rollout.canary_ready = False
    rollout.tick(0, settle=False)  # creates the canary's Deployment and Service
    assert quiet_tick(rollout, 0, settle=False) == 600.0


def test_a_step_waiting_for_its_check_looks_again_when_it_is_due():
    rollout = started(new_parent(steps=[{"setWeight": 10}, {"setWeight": 50}]))
    rollout.tick(0)  # the canary
    rollout.tick(0)  # its first weight, on the canary Ingress
    assert rollout.status["currentStep"] == 0
    assert quiet_tick(rollout, 5) == 30.0


def test_a_pause_looks_again_when_it_ends_if_that_comes_before_the_check():
    steps = [{"setWeight": 10}, {"pause": {"duration": "10s"}}, {"setWeight": 50}]
    rollout = started(new_parent(steps=steps))
    rollout.tick(0)
    rollout.tick(31)
    assert quiet_tick(rollout, 0) == 10.0 and rollout.status["currentStep"] == 1


def test_a_check_that_could_not_read_prometheus_looks_again_in_10_seconds():
    rollout = started(metrics=None)
    rollout.tick(0)
    rollout.tick(31)
    assert quiet_tick(rollout, 31) == decisions.METRICS_RETRY_SECONDS


def test_a_draining_canary_and_a_rollback_window_are_looked_at_again_when_they_end():
    rollout = started(new_parent(steps=[{"setWeight": 50}], rollbackWindow="5m"))
    for _ in range(10):
        promoting = rollout.status.get("phase") == "Promoting"
        if rollout.tick(1 if promoting else 31)["phase"] == "Stable" and rollout.status.get("drainingSince"):
            break
    assert rollout.status["stableVersion"] == NEW
    # One second after the promotion: the drain (10 s) ends first, then the window (5 min).
    assert quiet_tick(rollout, 9) == 9.0
    assert quiet_tick(rollout, 0) == 290.0 and not rollout.status.get("drainingSince")
