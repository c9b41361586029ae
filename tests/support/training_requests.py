"""MLTrainingJob sync requests made from the first golden request, and the hook called on them
with the tests' configuration."""

from __future__ import annotations

import copy
import json

from hooks import mltrainingjob
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG, cases

BASE = json.loads((cases("mltrainingjob")[0]).read_text())
JOB = "diabetes-gb-train"
JOBS = "Job.batch/v1"


def sync(request, now=FIXED_NOW):
    """The sync hook with the tests' configuration."""
    return mltrainingjob.sync(request, now=now, config=TEST_CONFIG)


def stamp(moment):
    """A moment as the API server writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def with_sibling(request: dict, created: str, status: dict | None = None, model: str = "diabetes") -> dict:
    """The request with another MLTrainingJob, `sibling`, among its related objects."""
    sibling = copy.deepcopy(request["parent"])
    sibling["metadata"].update(name="sibling", uid="uid-sibling", creationTimestamp=created)
    sibling["spec"]["model"] = model
    if status is not None:
        sibling["status"] = status
    request["related"]["MLTrainingJob.aurora.dev/v1alpha1"] = {"sibling": sibling}
    return request


def stamped(request: dict, created: str) -> dict:
    """The request with its parent created at `created`."""
    request["parent"]["metadata"]["creationTimestamp"] = created
    return request
