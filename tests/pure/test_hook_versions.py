"""Hooks of version v2 (what the CompositeControllers ask for) and v1 read the same requests alike.

A v2 request keys namespaced children and related objects `namespace/name`; a v1 request keys
those of the parent's namespace by name. Every golden request, re-keyed as v2 would key it,
gets the very same response.
"""

from __future__ import annotations

import json

import pytest

from tests.support.hook_fixtures import HOOKS, case_name, cases

CLUSTER_SCOPED = {"GatewayClass"}
CASES = [(controller, path) for controller in HOOKS for path in cases(controller)]


def v2_key(name: str, obj: dict, namespace: str) -> str:
    if obj.get("kind") in CLUSTER_SCOPED:
        return name
    return f"{(obj.get('metadata') or {}).get('namespace') or namespace}/{name}"


def as_v2(request: dict) -> dict:
    namespace = request["parent"]["metadata"]["namespace"]
    for field in ("children", "related"):
        request[field] = {
            key: {v2_key(name, obj, namespace): obj for name, obj in group.items()}
            for key, group in (request.get(field) or {}).items()
        }
    return request


@pytest.mark.parametrize(("controller", "path"), CASES, ids=[f"{c}-{case_name(p)}" for c, p in CASES])
def test_a_v2_request_gets_the_v1_requests_response(controller, path):
    v1 = json.loads(path.read_text())
    v2 = as_v2(json.loads(path.read_text()))
    assert HOOKS[controller](v2, path) == HOOKS[controller](v1, path)


def test_a_related_object_of_another_namespace_is_not_read_as_the_parents_own():
    controller, path = next((c, p) for c, p in CASES if "version-from-a-new-published-run" in p.name)
    request = json.loads(path.read_text())
    (key,) = [k for k in request["related"] if k.startswith("MLTrainingJob")]
    (name,) = request["related"][key]
    elsewhere = {f"other/{name}": request["related"][key][name]}
    moved = {**request, "related": {**request["related"], key: elsewhere}}
    status = HOOKS[controller](moved, path)["status"]
    resolved = next(c for c in status["conditions"] if c["type"] == "VersionResolved")
    assert resolved["status"] == "False" and resolved["reason"] == "WaitingForTraining"
