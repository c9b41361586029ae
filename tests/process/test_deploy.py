"""What a platform engineer applies: kustomize overlays, images, alerts, the dashboard."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import pod_security
from tests.support.documents import built, documents
from tests.support.paths import ROOT
from tests.support.schemas import KUBERNETES_VERSION, crd_validator, errors_of, upstream_crds
from tests.support.tools import require_tool

OVERLAYS = ["kind", "production"]
ALERTS = ROOT / "manifests" / "alerts"
CUSTOM_KINDS = {
    "CompositeController": ("metacontroller-crds.yaml", "compositecontrollers.metacontroller.k8s.io"),
    "PrometheusRule": ("monitoring.coreos.com_prometheusrules.yaml", "prometheusrules.monitoring.coreos.com"),
    "PodMonitor": ("monitoring.coreos.com_podmonitors.yaml", "podmonitors.monitoring.coreos.com"),
    "ServiceMonitor": ("monitoring.coreos.com_servicemonitors.yaml", "servicemonitors.monitoring.coreos.com"),
}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request):
    return request.param, built(request.param)


def test_every_built_object_passes_the_official_kubernetes_schema(overlay, tmp_path):
    name, objects = overlay
    tool = require_tool("kubernetes-validate")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = subprocess.run([tool, "-k", KUBERNETES_VERSION, "--strict", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "ERROR" not in result.stdout, result.stdout
    # The only kinds without an official schema are the custom ones checked below.
    unknown = set(re.findall(r"Couldn't find schema for kind (\w+)", result.stdout))
    assert unknown <= set(CUSTOM_KINDS), unknown


def test_custom_resources_match_their_upstream_crds(overlay):
    name, objects = overlay
    checked = 0
    for document in objects:
        if document["kind"] in CUSTOM_KINDS:
            file_name, crd_name = CUSTOM_KINDS[document["kind"]]
            validator = crd_validator(upstream_crds(file_name)[crd_name])
            assert errors_of(validator, document) == [], f"{name}: {document['kind']}/{document['metadata']['name']}"
            checked += 1
    # Two CompositeControllers, a ServiceMonitor, a PodMonitor, the PrometheusRule; kind adds
    # kube-state-metrics' ServiceMonitor.
    assert checked == (6 if name == "kind" else 5)


def test_every_pod_template_meets_the_restricted_profile(overlay):
    name, objects = overlay
    workloads = [d for d in objects if d["kind"] == "Deployment"]
    platform = {"aurora-hooks", "aurora-control-api"}
    assert {w["metadata"]["name"] for w in workloads} == platform | (
        {"aurora-kube-state-metrics"} if name == "kind" else set()
    )
    for workload in workloads:
        assert pod_security.violations(workload["spec"]["template"]["spec"]) == [], workload["metadata"]["name"]


def test_the_platform_pieces_are_all_there(overlay):
    name, objects = overlay
    kinds = {(d["kind"], d["metadata"]["name"]) for d in objects}
    for expected in [
        ("Namespace", "aurora-system"),
        ("CustomResourceDefinition", "mltrainingjobs.aurora.dev"),
        ("CustomResourceDefinition", "mldeployments.aurora.dev"),
        ("CompositeController", "mltrainingjob-controller"),
        ("CompositeController", "mldeployment-controller"),
        ("Service", "aurora-hooks"),
        ("PodDisruptionBudget", "aurora-hooks"),
        ("NetworkPolicy", "aurora-hooks"),
        ("ServiceAccount", "aurora-control-api"),
        ("ClusterRole", "aurora-control-api"),
        ("PersistentVolumeClaim", "aurora-models"),
        ("PrometheusRule", "aurora"),
    ]:
        assert expected in kinds, f"{name} lacks {expected}"
    hooks = next(d for d in objects if d["kind"] == "Deployment" and d["metadata"]["name"] == "aurora-hooks")
    assert hooks["spec"]["replicas"] == 2 and hooks["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_hook_urls_reach_the_hook_service(overlay):
    name, objects = overlay
    service = next(d for d in objects if d["kind"] == "Service" and d["metadata"]["name"] == "aurora-hooks")
    host = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}/"
    assert service["spec"]["ports"][0]["port"] == 80
    for controller in (d for d in objects if d["kind"] == "CompositeController"):
        for hook in controller["spec"]["hooks"].values():
            assert hook["webhook"]["url"].startswith(host)


def test_only_the_control_api_mounts_a_secret(overlay):
    name, objects = overlay
    for document in objects:
        if document["kind"] == "Deployment":
            secrets = [v for v in document["spec"]["template"]["spec"].get("volumes", []) if "secret" in v]
            assert bool(secrets) == (document["metadata"]["name"] == "aurora-control-api")


def test_the_models_volume_is_read_write_many_on_the_overlays_storage():
    for name, storage_class in (("kind", "aurora-local"), ("production", "cephfs")):
        claim = next(d for d in built(name) if d["kind"] == "PersistentVolumeClaim")
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["storageClassName"] == storage_class


# Alerts


def rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load((ALERTS / "aurora.rules.yml").read_text())["groups"] for rule in group["rules"]
    ]


def test_promtool_checks_and_unit_tests_the_alerts():
    promtool = require_tool("promtool")
    check = subprocess.run([promtool, "check", "rules", "aurora.rules.yml"], cwd=ALERTS, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", "aurora.rules.test.yml"], cwd=ALERTS, capture_output=True, text=True
    )
    assert test.returncode == 0 and "SUCCESS" in test.stdout, test.stdout + test.stderr


def test_every_alert_is_unit_tested_firing_and_silent():
    tests = yaml.safe_load((ALERTS / "aurora.rules.test.yml").read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    for rule in rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] == [] for case in mine), f"{rule['alert']} has no silent case"
        assert any(case["exp_alerts"] for case in mine) or rule["alert"] == "AuroraModelNotReady", rule["alert"]


def test_alerts_follow_the_house_conventions():
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    assert len(rules()) >= 8
    for rule in rules():
        name = rule["alert"]
        assert re.fullmatch(r"Aurora[A-Z][A-Za-z0-9]+", name)
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        summary, description = rule["annotations"]["summary"], rule["annotations"]["description"]
        assert summary.endswith(".") and "{{" not in summary, name
        assert "{{" in description, name
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor == f"alert-name-{name.lower()}"
        assert f"## Alert Name: {name}\n" in runbooks, f"docs/runbooks.md has no section for {name}"


def test_the_prometheus_rule_carries_exactly_the_tested_rules():
    (rule,) = documents(ROOT / "manifests" / "base" / "prometheusrule.yaml")
    assert rule["spec"] == yaml.safe_load((ALERTS / "aurora.rules.yml").read_text())


# Image and dashboard


def test_the_dockerfile_passes_hadolint():
    hadolint = require_tool("hadolint")
    result = subprocess.run([hadolint, str(ROOT / "images" / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_image_runs_as_a_non_root_user_from_a_pinned_base():
    dockerfile = (ROOT / "images" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert bases and all(re.search(r":\d+\.\d+\.\d+", base) for base in bases)
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)


def kube_state_metrics_series() -> set[str]:
    """Every series name manifests/kube-state-metrics/custom-resource-state.yaml makes."""
    config = yaml.safe_load((ROOT / "manifests" / "kube-state-metrics" / "custom-resource-state.yaml").read_text())
    return {
        f"{resource['metricNamePrefix']}_{metric['name']}"
        for resource in config["spec"]["resources"]
        for metric in resource["metrics"]
    }


def test_the_alerts_read_only_series_kube_state_metrics_exports():
    rules = yaml.safe_load((ALERTS / "aurora.rules.yml").read_text())
    used = {n for g in rules["groups"] for r in g["rules"] for n in re.findall(r"aurora_ml[a-z_]+", r["expr"])}
    assert used and used <= kube_state_metrics_series()


def test_the_dashboard_is_valid_json_over_the_version_labelled_series():
    dashboard = json.loads((ROOT / "manifests" / "base" / "dashboards" / "aurora.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(dashboard["panels"]) >= 6
    exported = kube_state_metrics_series()
    for expression in expressions:
        # Version-labelled inference series, or the MLDeployment series kube-state-metrics exports.
        names = set(re.findall(r"aurora_mldeployment_[a-z_]+", expression))
        assert "model_version" in expression or 'track="canary"' in expression or names, expression
        assert names <= exported, f"{names - exported} are not in custom-resource-state.yaml"
    config_map = next(d for d in built("production") if d["kind"] == "ConfigMap")
    assert json.loads(next(iter(config_map["data"].values())))["uid"] == "aurora-models"


def test_examples_use_names_the_crds_accept():
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for document in documents(path):
            assert len(document["metadata"]["name"]) <= 56, Path(path).name


def test_without_the_gateway_api_the_controller_lists_no_http_routes(tmp_path):
    """Metacontroller refuses a child type it cannot discover: clusters without the Gateway API's
    CRDs leave HTTPRoutes out with the without-gateway-api component."""
    kubectl = require_tool("kubectl")
    manifests = ROOT / "manifests"
    overlay = {
        "resources": [os.path.relpath(manifests / "overlays" / "production", tmp_path)],
        "components": [os.path.relpath(manifests / "components" / "without-gateway-api", tmp_path)],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    result = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (controller,) = [
        d for d in yaml.safe_load_all(result.stdout) if d and d["metadata"]["name"] == "mldeployment-controller"
    ]
    resources = [child["resource"] for child in controller["spec"]["childResources"]]
    assert resources == ["deployments", "services", "ingresses", "horizontalpodautoscalers"]
