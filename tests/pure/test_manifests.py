"""Manifests and emitted children against the schemas of their custom kinds, and emitted pods
against the restricted Pod Security profile.

- Custom resources (our CompositeControllers, the examples, the statuses the hooks write, the
  HTTPRoutes they emit): jsonschema against the CRD's openAPIV3Schema (Metacontroller's and the
  Gateway API's upstream CRDs, ours for MLTrainingJob and MLDeployment), with unknown fields
  refused as the API server's strict validation does.
- Built-in kinds go through kubernetes-validate: tests/process/test_kubernetes_validate.py.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.support import pod_security
from tests.support.documents import documents
from tests.support.hook_fixtures import cases, emitted_children, response_path
from tests.support.paths import ROOT
from tests.support.schemas import CRDS, crd_validator, errors_of, upstream_crds


def test_every_emitted_http_route_passes_the_upstream_gateway_api_schema():
    routes = [c for c in emitted_children("mldeployment") if c["kind"] == "HTTPRoute"]
    validator = crd_validator(
        upstream_crds("gateway.networking.k8s.io_httproutes.yaml")["httproutes.gateway.networking.k8s.io"]
    )
    assert len(routes) >= 3 and all(errors_of(validator, route) == [] for route in routes)


def test_composite_controllers_match_metacontrollers_crd():
    upstream = upstream_crds("metacontroller-crds.yaml")
    validator = crd_validator(upstream["compositecontrollers.metacontroller.k8s.io"])
    controllers = [p for p in sorted((ROOT / "composite-controllers").glob("*.yaml")) if p.name != "kustomization.yaml"]
    assert controllers
    for path in controllers:
        for document in documents(path):
            assert errors_of(validator, document) == [], path.name


@pytest.mark.parametrize("kind", ["mltrainingjob", "mldeployment"])
def test_the_example_matches_the_crd(kind):
    validator = crd_validator(documents(ROOT / "manifests" / "crds" / f"{kind}s.aurora.dev.yaml")[0])
    (example,) = documents(ROOT / "examples" / f"{kind}.yaml")
    assert errors_of(validator, example) == []


@pytest.mark.parametrize("path", CRDS, ids=[p.name for p in CRDS])
def test_crds_have_no_empty_values(path):
    """A comma inside an unquoted flow mapping silently makes a key with no value."""

    def empty(node, where=""):
        if isinstance(node, dict):
            return [f"{where}.{k}" for k, v in node.items() if v is None] + [
                e for k, v in node.items() for e in empty(v, f"{where}.{k}")
            ]
        if isinstance(node, list):
            return [e for i, v in enumerate(node) for e in empty(v, f"{where}[{i}]")]
        return []

    assert empty(documents(path)[0]) == []


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda s: s["estimator"].update(type="svm"), "spec.estimator.type"),
        (lambda s: s.update(modle="typo"), "spec"),
        (lambda s: s["evaluation"].update(seed=-1), "spec.evaluation.seed"),
        (lambda s: s.update(model="Not_A_Label"), "spec.model"),
    ],
    ids=["bad-enum", "unknown-field", "below-minimum", "bad-pattern"],
)
def test_the_crd_schema_rejects_bad_specs(change, field):
    validator = crd_validator(documents(ROOT / "manifests" / "crds" / "mltrainingjobs.aurora.dev.yaml")[0])
    (example,) = documents(ROOT / "examples" / "mltrainingjob.yaml")
    change(example["spec"])
    assert any(error.startswith(field) for error in errors_of(validator, example))


@pytest.mark.parametrize("kind", ["mltrainingjob", "mldeployment"])
def test_every_status_the_hook_writes_survives_the_crd_schema(kind):
    """Fields missing from the status schema would be pruned by the API server."""
    crd = documents(ROOT / "manifests" / "crds" / f"{kind}s.aurora.dev.yaml")[0]
    validator = crd_validator(crd)
    (example,) = documents(ROOT / "examples" / f"{kind}.yaml")
    for path in cases(kind):
        status = json.loads(response_path(path).read_text())["status"]
        document = {**example, "status": {**status, "observedGeneration": 1}}
        assert errors_of(validator, document) == [], path.name


@pytest.mark.parametrize("controller", ["mltrainingjob", "mldeployment"])
def test_every_emitted_pod_meets_the_restricted_pod_security_profile(controller):
    workloads = [c for c in emitted_children(controller) if c["kind"] in ("Job", "Deployment")]
    assert workloads
    for workload in workloads:
        assert pod_security.violations(workload["spec"]["template"]["spec"]) == [], workload["metadata"]["name"]


def test_inference_pods_mount_the_models_read_only_and_carry_the_contract_labels():
    deployments = [c for c in emitted_children("mldeployment") if c["kind"] == "Deployment"]
    for deployment in deployments:
        pod = deployment["spec"]["template"]
        assert {"aurora.dev/model", "aurora.dev/model-version", "aurora.dev/track"} <= set(pod["metadata"]["labels"])
        claim = next(v for v in pod["spec"]["volumes"] if v["name"] == "models")["persistentVolumeClaim"]
        mounts = [m for c in pod["spec"]["containers"] + pod["spec"]["initContainers"] for m in c["volumeMounts"]]
        assert claim["readOnly"] is True and all(m["readOnly"] for m in mounts if m["name"] == "models")
        assert pod["spec"]["initContainers"][0]["command"] == ["aurora-serve", "check"]
        assert pod["spec"]["automountServiceAccountToken"] is False


def test_the_pod_security_check_catches_a_violation():
    pod = copy.deepcopy(emitted_children("mltrainingjob")[0]["spec"]["template"]["spec"])
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert len(pod_security.violations(pod)) == 2


def test_training_pods_mount_no_service_account_token():
    for job in emitted_children("mltrainingjob"):
        assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def undescribed(schema: dict, path: str = "") -> list[str]:
    missing = []
    for name, child in (schema.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        if not child.get("description"):
            missing.append(here)
        missing += undescribed(child, here)
    return missing + (undescribed(schema["items"], f"{path}[]") if "items" in schema else [])


@pytest.mark.parametrize("path", CRDS, ids=[p.name for p in CRDS])
def test_every_crd_field_has_a_description_for_kubectl_explain(path):
    crd = documents(path)[0]
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    fields = {name: schema["properties"][name] for name in ("spec", "status")}
    assert undescribed({"properties": fields}) == []
