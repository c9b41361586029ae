"""A sync on its own status writes nothing new: no status write loop.

Metacontroller syncs a parent again after every status write it makes, and writes again
whenever the answer differs from the status it holds. An answer that changed on every sync (a
time stamped with now, a counter) would loop for as long as the parent exists. Every golden
request is synced, its answer's status fed back as Metacontroller would store it, and synced
again a second and two seconds later.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from hooks import mldeployment
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG_MLD, case_name, cases, observations_path


def sync(request: dict, path, seconds_later: int) -> dict:
    extra = observations_path(path)
    observations = json.loads(extra.read_text()) if extra.is_file() else None
    now = FIXED_NOW + timedelta(seconds=seconds_later)
    return mldeployment.sync(request, now=now, observations=observations, config=TEST_CONFIG_MLD)


def stored(request: dict, answer: dict) -> dict:
    """The request of the next sync: the answer's status written, as Metacontroller writes it."""
    again = copy.deepcopy(request)
    generation = again["parent"]["metadata"].get("generation")
    again["parent"]["status"] = {**json.loads(json.dumps(answer["status"])), "observedGeneration": generation}
    return again


def without_generation(status: dict) -> dict:
    return {k: v for k, v in json.loads(json.dumps(status)).items() if k != "observedGeneration"}


@pytest.mark.parametrize("path", cases("mldeployment"), ids=case_name)
def test_a_sync_on_its_own_status_answers_the_same(path):
    request = json.loads(path.read_text())
    first = sync(request, path, 0)
    second = sync(stored(request, first), path, 1)
    third = sync(stored(request, second), path, 2)
    assert without_generation(third["status"]) == without_generation(second["status"])
    assert third["children"] == second["children"]
    if request["children"].get("Deployment.apps/v1"):
        # Only a first sync, before any child is observed, learns something from its own status.
        assert without_generation(second["status"]) == without_generation(first["status"])
