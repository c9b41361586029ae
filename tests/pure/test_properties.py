"""Property tests: arbitrary and malformed specs, annotations, statuses and children.

Invariants: a 200 answer never omits an observed child when the spec is invalid; nothing
escapes but MalformedRequest (which the adapter answers 400); the same request gives the
same response; status stays bounded. HYPOTHESIS_PROFILE=soak runs many more examples.
"""

from __future__ import annotations

import copy
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hooks import app as hooks_app
from hooks import decisions, mldeployment, mltrainingjob
from hooks.errors import MalformedRequest
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG, TEST_CONFIG_MLD, cases, response_path

settings.register_profile("ci", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("soak", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
MLD_BASE = [json.loads(p.read_text()) for p in cases("mldeployment")]
MLTJ_BASE = [json.loads(p.read_text()) for p in cases("mltrainingjob")]
SPEC_KEYS = {
    "mldeployment": ["model", "version", "replicas", "image", "resources", "storage", "ingress", "paused", "canary"],
    "mltrainingjob": [
        "model",
        "dataset",
        "estimator",
        "evaluation",
        "promote",
        "image",
        "storage",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ],
}
CANARY_KEYS = ["replicas", "progressDeadlineSeconds", "steps", "analysis"]


def run(kind: str, request: dict) -> dict:
    if kind == "mldeployment":
        return mldeployment.sync(request, now=FIXED_NOW, observations=None, config=TEST_CONFIG_MLD)
    return mltrainingjob.sync(request, now=FIXED_NOW, config=TEST_CONFIG)


@st.composite
def mutated_requests(draw, kind: str):
    base = MLD_BASE if kind == "mldeployment" else MLTJ_BASE
    request = copy.deepcopy(draw(st.sampled_from(base)))
    parent = request["parent"]
    for key in draw(st.lists(st.sampled_from(SPEC_KEYS[kind]), max_size=3)):
        parent["spec"][key] = draw(json_values)
    if kind == "mldeployment" and isinstance(parent["spec"].get("canary"), dict) and draw(st.booleans()):
        parent["spec"]["canary"][draw(st.sampled_from(CANARY_KEYS))] = draw(json_values)
    if draw(st.booleans()):
        parent["metadata"]["annotations"] = draw(
            st.dictionaries(
                st.sampled_from(["aurora.dev/promote", "aurora.dev/abort", "aurora.dev/retry", "x"]),
                json_values,
                max_size=3,
            )
        )
    if draw(st.booleans()):
        parent["status"] = draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "phase",
                        "stableVersion",
                        "canaryVersion",
                        "actions",
                        "analysis",
                        "stepStartedAt",
                        "modelVersion",
                        "conditions",
                        "completionTime",
                    ]
                ),
                json_values,
                max_size=4,
            )
        ) | (parent.get("status") or {} if draw(st.booleans()) else {})
    return request


def golden_statuses(kind: str) -> list[dict]:
    return [json.loads(response_path(p).read_text())["status"] for p in cases(kind)]


def status_field_names(statuses: list[dict]) -> list[str]:
    """Every field the hooks write, nested ones as dotted paths (analysis.failedChecks, ...)."""
    names = set()
    for status in statuses:
        for key, value in status.items():
            names.add(key)
            if isinstance(value, dict):
                names.update(f"{key}.{inner}" for inner in value)
    return sorted(names)


@st.composite
def hand_edited(draw, kind: str):
    """A request whose status is a real one with some real fields removed or given any other value."""
    statuses = golden_statuses(kind)
    request = copy.deepcopy(draw(st.sampled_from(MLD_BASE if kind == "mldeployment" else MLTJ_BASE)))
    status = copy.deepcopy(draw(st.sampled_from(statuses)))
    for name in draw(st.lists(st.sampled_from(status_field_names(statuses)), min_size=1, max_size=4)):
        outer, _, inner = name.partition(".")
        target = status if not inner else status.get(outer)
        key = inner or outer
        if isinstance(target, dict):
            if draw(st.booleans()):
                target.pop(key, None)
            else:
                target[key] = draw(json_values)
    request["parent"]["status"] = status
    return request


@given(hand_edited("mldeployment"))
def test_a_hand_edited_mldeployment_status_never_fails_a_sync(request):
    response = run("mldeployment", copy.deepcopy(request))
    status = response["status"]
    assert type(status["canaryWeight"]) is int and isinstance(status["canaryVersion"], str)
    if "phase" not in status:
        # Only before anything runs: the followed training run has published no version yet.
        resolved = next(c for c in status["conditions"] if c["type"] == "VersionResolved")
        assert resolved["status"] == "False" and response["children"] == []
        return
    assert status["phase"] in {"Stable", "Progressing", "Paused", "Promoting", "RolledBack", "Failed"}


@given(hand_edited("mltrainingjob"))
def test_a_hand_edited_mltrainingjob_status_never_fails_a_sync(request):
    assert run("mltrainingjob", copy.deepcopy(request))["status"]["phase"]


def observed_names(request: dict) -> set[str]:
    return {name for group in request.get("children", {}).values() for name in group}


def check_invariants(kind: str, request: dict) -> None:
    try:
        response = run(kind, copy.deepcopy(request))
    except MalformedRequest:
        return
    assert set(response) <= {"status", "children", "resyncAfterSeconds"}
    assert json.dumps(response, sort_keys=True) == json.dumps(run(kind, copy.deepcopy(request)), sort_keys=True)
    status = response["status"]
    assert len(json.dumps(status)) < 64_000
    for values in (status.get("actions") or {}).values():
        assert len(values) <= decisions.SEEN_ACTIONS_KEPT
    invalid = next((c for c in status["conditions"] if c["type"] == "InvalidSpec"), {})
    if invalid.get("status") == "True":
        assert observed_names(request) <= {c["metadata"]["name"] for c in response["children"]}


@given(mutated_requests("mldeployment"))
def test_mldeployment_sync_holds_its_invariants(request):
    check_invariants("mldeployment", request)


@given(mutated_requests("mltrainingjob"))
def test_mltrainingjob_sync_holds_its_invariants(request):
    check_invariants("mltrainingjob", request)


@given(json_values)
def test_any_json_body_gets_200_or_400_never_500(body):
    client = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW).test_client()
    for path in ("/mldeployment/sync", "/mldeployment/customize", "/mltrainingjob/sync", "/mltrainingjob/customize"):
        response = client.post(path, data=json.dumps(body), content_type="application/json")
        assert response.status_code in (200, 400), (path, response.get_json())


@given(st.binary(max_size=200))
def test_any_bytes_get_200_or_400_never_500(body):
    client = hooks_app.create_app(TEST_CONFIG, clock=lambda: FIXED_NOW).test_client()
    response = client.post("/mldeployment/sync", data=body, content_type="application/json")
    assert response.status_code in (200, 400)
