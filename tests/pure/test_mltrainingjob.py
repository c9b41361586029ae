"""The MLTrainingJob hooks: golden pairs, tick-by-tick scenarios and one-mutation edge cases."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from hooks import mltrainingjob
from hooks.errors import MalformedRequest
from tests.support.hook_fixtures import FIXED_NOW, case_name, cases, response_path
from tests.support.metacontroller_double import MetacontrollerDouble
from tests.support.training_requests import BASE, JOB, JOBS, stamp, stamped, sync, with_sibling

CASES = cases("mltrainingjob")


@pytest.mark.parametrize("path", CASES, ids=[case_name(p) for p in CASES])
def test_golden_pair(path):
    request = json.loads(path.read_text())
    assert sync(request) == json.loads(response_path(path).read_text())


@pytest.mark.parametrize("path", CASES, ids=[case_name(p) for p in CASES])
def test_the_same_request_gives_the_same_response(path):
    request = json.loads(path.read_text())
    assert json.dumps(sync(copy.deepcopy(request)), sort_keys=True) == json.dumps(sync(request), sort_keys=True)


# Tick by tick, with the Metacontroller double


def summary(exit_code=0, r2=0.455, promoted=True, gate_passed=True):
    metrics = {"r2": r2, "rmse": 53.7, "mae": 44.5, "rows": 442, "trainSeconds": 0.1}
    body = {"exitCode": exit_code, "metrics": metrics, "gatePassed": gate_passed, "promoted": promoted}
    return json.dumps(body)


def trainer_pod(exit_code, message, finished):
    terminated = {"exitCode": exit_code, "message": message, "finishedAt": finished}
    return {
        "metadata": {"name": f"{JOB}-abcde"},
        "status": {"containerStatuses": [{"name": "trainer", "state": {"terminated": terminated}}]},
    }


@pytest.fixture
def cluster():
    parent = copy.deepcopy(BASE["parent"])
    return MetacontrollerDouble(
        parent, lambda r, now: sync(r, now), strategies={"Job.batch/v1": "OnDelete"}, related_key="Pod.v1"
    )


def test_a_run_goes_pending_running_succeeded_and_keeps_its_version(cluster):
    t0 = FIXED_NOW
    cluster.tick(t0)
    version = cluster.status["modelVersion"]
    assert (cluster.status["phase"], version, cluster.created) == ("Pending", "v20261126-100500", [f"{JOBS}/{JOB}"])
    assert cluster.children[JOBS][JOB]["metadata"]["labels"]["aurora.dev/model-version"] == version

    cluster.children[JOBS][JOB]["status"] = {"active": 1, "startTime": stamp(t0 + timedelta(seconds=5))}
    cluster.tick(t0 + timedelta(seconds=30))
    assert cluster.status["phase"] == "Running" and cluster.status["modelVersion"] == version

    done = t0 + timedelta(minutes=3)
    cluster.children[JOBS][JOB]["status"] = {
        "startTime": stamp(t0 + timedelta(seconds=5)),
        "completionTime": stamp(done),
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": stamp(done)}],
    }
    cluster.related[f"{JOB}-abcde"] = trainer_pod(0, summary(), stamp(done))
    cluster.tick(done + timedelta(seconds=1))
    status = cluster.status
    assert status["phase"] == "Succeeded" and status["modelVersion"] == version
    assert status["metrics"]["r2"] == 0.455 and status["promoted"] is True and status["gatePassed"] is True
    assert status["completionTime"] == stamp(done)
    complete = next(c for c in status["conditions"] if c["type"] == "Complete")
    assert complete["status"] == "True" and "r2 0.4550" in complete["message"]
    assert cluster.created == [f"{JOBS}/{JOB}"] and not cluster.deleted


def test_a_status_write_causes_no_further_change(cluster):
    cluster.tick(FIXED_NOW)
    first = copy.deepcopy(cluster.status)
    cluster.tick(FIXED_NOW + timedelta(minutes=10))
    assert cluster.status == first


def test_the_version_is_read_back_from_the_job_even_if_the_status_was_lost(cluster):
    cluster.tick(FIXED_NOW)
    version = cluster.status["modelVersion"]
    cluster.parent["status"] = {}
    cluster.tick(FIXED_NOW + timedelta(hours=1))
    assert cluster.status["modelVersion"] == version


def finish(cluster, at, *, exit_code=None, reason=None, message=""):
    condition = {"type": "Failed" if reason else "Complete", "status": "True", "lastTransitionTime": stamp(at)}
    if reason:
        condition.update(reason=reason, message=message)
    cluster.children[JOBS][JOB]["status"] = (
        {"completionTime": stamp(at), "conditions": [condition]} if not reason else {"conditions": [condition]}
    )
    if exit_code is not None:
        cluster.related[f"{JOB}-abcde"] = trainer_pod(exit_code, summary(exit_code, promoted=exit_code == 0), stamp(at))


def test_a_failed_gate_fails_the_run_with_reason_quality_gate_failed(cluster):
    cluster.tick(FIXED_NOW)
    finish(cluster, FIXED_NOW + timedelta(minutes=2), exit_code=3, reason="PodFailurePolicy", message="exit code 3")
    cluster.tick(FIXED_NOW + timedelta(minutes=3))
    failed = next(c for c in cluster.status["conditions"] if c["type"] == "Failed")
    assert cluster.status["phase"] == "Failed"
    assert failed["status"] == "True" and failed["reason"] == "QualityGateFailed"
    assert cluster.status["promoted"] is False and cluster.status["metrics"]["r2"] == 0.455


@pytest.mark.parametrize(
    ("reason", "words"),
    [("StoreNotWritable", "the trainer cannot write to the models volume"), ("NoSpace", "the models volume is full")],
)
def test_a_models_volume_that_refuses_the_run_says_so_rather_than_blaming_its_input(cluster, reason, words):
    cluster.tick(FIXED_NOW)
    at = FIXED_NOW + timedelta(seconds=20)
    cluster.children[JOBS][JOB]["status"] = {
        "conditions": [
            {"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "lastTransitionTime": stamp(at)}
        ]
    }
    report = json.dumps(
        {"exitCode": 2, "error": "the model store /models is not writable by uid 10001", "reason": reason}
    )
    cluster.related[f"{JOB}-abcde"] = trainer_pod(2, report, stamp(at))
    cluster.tick(at + timedelta(seconds=1))
    failed = next(c for c in cluster.status["conditions"] if c["type"] == "Failed")
    assert (cluster.status["phase"], failed["reason"]) == ("Failed", reason)
    assert failed["message"] == f"{words}: the model store /models is not writable by uid 10001"


def test_a_deadline_fails_the_run_with_reason_deadline_exceeded(cluster):
    cluster.tick(FIXED_NOW)
    finish(
        cluster,
        FIXED_NOW + timedelta(hours=1),
        reason="DeadlineExceeded",
        message="Job was active longer than specified deadline",
    )
    cluster.tick(FIXED_NOW + timedelta(hours=1, seconds=1))
    failed = next(c for c in cluster.status["conditions"] if c["type"] == "Failed")
    assert (cluster.status["phase"], failed["reason"]) == ("Failed", "DeadlineExceeded")
    assert cluster.status["completionTime"] == stamp(FIXED_NOW + timedelta(hours=1))


def test_the_job_is_kept_until_its_ttl_then_removed_and_never_recreated(cluster):
    cluster.tick(FIXED_NOW)
    done = FIXED_NOW + timedelta(minutes=3)
    finish(cluster, done, exit_code=0)
    response = cluster.tick(done)
    ttl = BASE["parent"]["spec"]["ttlSecondsAfterFinished"]
    assert response["resyncAfterSeconds"] == ttl

    cluster.tick(done + timedelta(seconds=ttl - 1))
    assert JOB in cluster.children[JOBS]
    cluster.tick(done + timedelta(seconds=ttl))
    assert cluster.deleted == [f"{JOBS}/{JOB}"] and JOB not in cluster.children[JOBS]

    cluster.related.clear()
    recorded = copy.deepcopy(cluster.status)
    for days in (1, 30):
        cluster.tick(done + timedelta(days=days))
    assert cluster.created == [f"{JOBS}/{JOB}"]
    assert cluster.status == recorded


def test_a_finished_job_deleted_by_hand_before_its_ttl_is_not_recreated(cluster):
    cluster.tick(FIXED_NOW)
    done = FIXED_NOW + timedelta(minutes=3)
    finish(cluster, done, exit_code=0)
    cluster.tick(done)
    del cluster.children[JOBS][JOB]
    cluster.related.clear()
    cluster.tick(done + timedelta(minutes=1))
    assert cluster.created == [f"{JOBS}/{JOB}"] and cluster.status["phase"] == "Succeeded"


def test_lasttransitiontime_moves_only_when_a_condition_flips(cluster):
    cluster.tick(FIXED_NOW)
    before = {c["type"]: c["lastTransitionTime"] for c in cluster.status["conditions"]}
    cluster.children[JOBS][JOB]["status"] = {"active": 1}
    cluster.tick(FIXED_NOW + timedelta(minutes=1))
    done = FIXED_NOW + timedelta(minutes=5)
    finish(cluster, done, exit_code=0)
    cluster.tick(done)
    after = {c["type"]: c["lastTransitionTime"] for c in cluster.status["conditions"]}
    assert after["Complete"] == stamp(done) != before["Complete"]
    assert after["Failed"] == before["Failed"] and after["InvalidSpec"] == before["InvalidSpec"]


# One mutation each


def mutated(change) -> dict:
    request = copy.deepcopy(BASE)
    change(request["parent"]["spec"])
    return request


INVALID_SPECS = [
    (
        "both-datasets",
        lambda s: s.update(dataset={"builtin": "diabetes", "csv": {"path": "/d.csv", "target": "y"}}),
        "exactly one of builtin or csv",
    ),
    ("no-dataset", lambda s: s.update(dataset={}), "exactly one of builtin or csv"),
    ("unknown-builtin", lambda s: s.update(dataset={"builtin": "iris"}), "spec.dataset.builtin 'iris'"),
    ("csv-off-volume", lambda s: s.update(dataset={"csv": {"path": "/data/d.csv", "target": "y"}}), "models volume"),
    ("bad-estimator", lambda s: s.update(estimator={"type": "svm"}), "unknown estimator 'svm'"),
    ("unknown-param", lambda s: s["estimator"].update(params={"n_trees": 3}), "no parameter 'n_trees'"),
    ("test-fraction-1", lambda s: s["evaluation"].update(testFraction=1.0), "testFraction 1.0"),
    ("test-fraction-0", lambda s: s["evaluation"].update(testFraction=0), "testFraction 0"),
    ("model-name", lambda s: s.update(model="Housing_Model"), "spec.model 'Housing_Model'"),
    ("gate-direction", lambda s: s["evaluation"].update(gate={"metric": "rmse", "min": 0.5}), "takes exactly 'max'"),
    (
        "gate-metric",
        lambda s: s["evaluation"].update(gate={"metric": "accuracy", "min": 0.5}),
        "gate.metric 'accuracy'",
    ),
    ("negative-backoff", lambda s: s.update(backoffLimit=-1), "spec.backoffLimit -1"),
]


@pytest.mark.parametrize("change, message", [c[1:] for c in INVALID_SPECS], ids=[c[0] for c in INVALID_SPECS])
def test_an_invalid_spec_creates_no_job_and_says_which_field(change, message):
    response = sync(mutated(change))
    invalid = next(c for c in response["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert response["children"] == []
    assert invalid["status"] == "True" and message in invalid["message"]
    assert response["status"]["phase"] == "Failed"


def test_an_invalid_spec_never_drops_the_running_job():
    request = json.loads((CASES[2]).read_text())
    request["parent"]["spec"]["estimator"]["params"] = {"n_trees": 3}
    response = sync(request)
    assert [child["metadata"]["name"] for child in response["children"]] == [JOB]
    assert response["status"]["phase"] == "Running"


def test_the_spec_image_overrides_the_configured_one():
    response = sync(mutated(lambda s: s.update(image="registry.example.com/custom:2")))
    container = response["children"][0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/custom:2"


def test_no_promote_and_csv_reach_the_trainer_arguments():
    response = sync(
        mutated(lambda s: s.update(promote=False, dataset={"csv": {"path": "/models/d.csv", "target": "y"}}))
    )
    args = response["children"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--no-promote" in args and args[args.index("--dataset") + 1] == "csv:/models/d.csv:y"


def test_the_job_has_no_ttl_of_its_own():
    job = sync(copy.deepcopy(BASE))["children"][0]
    assert "ttlSecondsAfterFinished" not in job["spec"]


def test_a_long_parent_name_gives_a_job_name_that_fits_a_label():
    request = copy.deepcopy(BASE)
    request["parent"]["metadata"]["name"] = "a" * 47 + "-" + "b" * 12
    name = sync(request)["children"][0]["metadata"]["name"]
    assert len(name) <= 63 and name.endswith("-train") and "--" not in name


def test_a_name_too_long_for_a_label_is_an_invalid_spec():
    request = copy.deepcopy(BASE)
    request["parent"]["metadata"]["name"] = "a" * 64
    response = sync(request)
    assert (
        response["children"] == []
        and "metadata.name is 64 characters" in response["status"]["conditions"][2]["message"]
    )


@pytest.mark.parametrize(
    "request_body",
    [None, [], {"parent": "x"}, {"parent": {"spec": {}}}, {**BASE, "children": {"Job.batch/v1": ["x"]}}],
    ids=["null", "list", "parent-not-object", "no-name", "children-not-objects"],
)
def test_a_malformed_request_raises_instead_of_answering(request_body):
    with pytest.raises(MalformedRequest):
        sync(copy.deepcopy(request_body))


def test_customize_selects_this_runs_pods_by_uid_and_the_runs_of_its_own_namespace():
    related = mltrainingjob.customize(copy.deepcopy(BASE))["relatedResources"]
    uid, namespace = BASE["parent"]["metadata"]["uid"], BASE["parent"]["metadata"]["namespace"]
    assert related == [
        {
            "apiVersion": "v1",
            "resource": "pods",
            "namespace": namespace,
            "labelSelector": {"matchLabels": {"aurora.dev/training-job-uid": uid}},
        },
        {
            "apiVersion": "aurora.dev/v1alpha1",
            "resource": "mltrainingjobs",
            "namespace": namespace,
            "labelSelector": {},
        },
    ]
    pod_labels = sync(copy.deepcopy(BASE))["children"][0]["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["aurora.dev/training-job-uid"] == uid


def test_with_no_retention_the_job_is_let_go_only_once_completion_is_on_record(cluster):
    cluster.parent["spec"]["ttlSecondsAfterFinished"] = 0
    cluster.tick(FIXED_NOW)
    done = FIXED_NOW + timedelta(minutes=3)
    finish(cluster, done, exit_code=0)
    stale = copy.deepcopy(cluster.parent["status"])
    response = cluster.tick(done)
    # The sync that sees the completion first keeps the Job: its status is not saved yet.
    assert [c["metadata"]["name"] for c in response["children"]] == [JOB]
    # A sync that still reads the older status (a lagging cache) keeps it too.
    saved = cluster.parent["status"]
    cluster.parent["status"] = stale
    assert [c["metadata"]["name"] for c in sync(cluster.request(), done)["children"]] == [JOB]
    cluster.parent["status"] = saved
    cluster.tick(done + timedelta(seconds=1))
    assert JOB not in cluster.children[JOBS]
    cluster.tick(done + timedelta(seconds=2))
    assert cluster.created == [f"{JOBS}/{JOB}"]


# Runs of one model started together: no two share a version


def test_a_younger_run_waits_while_an_older_one_of_the_model_has_no_version():
    request = with_sibling(stamped(copy.deepcopy(BASE), stamp(FIXED_NOW)), stamp(FIXED_NOW - timedelta(seconds=1)))
    response = sync(request)
    assert response["children"] == [] and "modelVersion" not in response["status"]
    assert response["status"]["conditions"][0]["reason"] == "WaitingForVersion"


def test_the_older_run_does_not_wait_for_a_younger_one():
    request = with_sibling(copy.deepcopy(BASE), stamp(FIXED_NOW))
    assert sync(request)["status"]["modelVersion"] == "v20261126-100500"


@pytest.mark.parametrize(
    "created_ago, status",
    [(61, None), (1, {"phase": "Failed", "jobName": "sibling-train"})],
    ids=["created-over-a-minute-ago", "failed"],
)
def test_an_older_run_that_will_not_choose_is_not_waited_for(created_ago, status):
    now_created = stamped(copy.deepcopy(BASE), stamp(FIXED_NOW))
    request = with_sibling(now_created, stamp(FIXED_NOW - timedelta(seconds=created_ago)), status)
    assert sync(request)["status"]["modelVersion"] == "v20261126-100500"


def test_versions_held_by_runs_of_other_models_do_not_count():
    held = {"phase": "Pending", "modelVersion": "v20261126-100500"}
    request = with_sibling(copy.deepcopy(BASE), stamp(FIXED_NOW), held, model="housing")
    assert sync(request)["status"]["modelVersion"] == "v20261126-100500"


def test_a_run_keeps_its_version_whatever_its_siblings_hold_later(cluster):
    cluster.tick(FIXED_NOW)
    cluster.related = {}
    request = with_sibling(
        cluster.request(), stamp(FIXED_NOW), {"phase": "Running", "modelVersion": "v20261126-100500"}
    )
    assert sync(request, FIXED_NOW + timedelta(seconds=5))["status"]["modelVersion"] == "v20261126-100500"


# Re-created runs: the old run's Job may still hold the name when the new run asks for it


def test_a_job_whose_create_did_not_happen_is_asked_for_again_soon_and_the_status_says_so(cluster):
    cluster.parent["metadata"]["creationTimestamp"] = stamp(FIXED_NOW)
    cluster.tick(FIXED_NOW)
    version = cluster.status["modelVersion"]
    # The old run's Job held the name: Metacontroller's create failed and it moved on.
    cluster.children[JOBS].clear()
    response = cluster.tick(FIXED_NOW + timedelta(seconds=2))
    assert response["resyncAfterSeconds"] == 2.0
    complete = next(c for c in cluster.status["conditions"] if c["type"] == "Complete")
    assert complete["message"].startswith(f"waiting for Job {JOB} to be created")
    assert (cluster.status["phase"], cluster.status["modelVersion"]) == ("Pending", version)
    # Created at last: the run goes on with the version it chose, and stops asking.
    response = cluster.tick(FIXED_NOW + timedelta(seconds=4))
    assert "resyncAfterSeconds" not in response and cluster.status["modelVersion"] == version
    complete = next(c for c in cluster.status["conditions"] if c["type"] == "Complete")
    assert complete["message"] == ""


def test_a_name_held_for_long_is_asked_for_less_often(cluster):
    cluster.parent["metadata"]["creationTimestamp"] = stamp(FIXED_NOW - timedelta(minutes=10))
    response = cluster.tick(FIXED_NOW)
    assert response["resyncAfterSeconds"] == 30.0


def test_a_job_observed_needs_no_extra_sync(cluster):
    cluster.tick(FIXED_NOW)
    cluster.children[JOBS][JOB]["status"] = {"active": 1}
    assert "resyncAfterSeconds" not in cluster.tick(FIXED_NOW + timedelta(seconds=5))
