"""Built-in kinds against the official Kubernetes OpenAPI schemas: kubernetes-validate --strict,
offline, at a pinned Kubernetes version, for every Job and Deployment a hook emits and for the
manifests of built-in kinds. (Custom resources are checked in tests/pure/test_manifests.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.documents import documents
from tests.support.hook_fixtures import emitted_children
from tests.support.paths import ROOT
from tests.support.schemas import CRDS, KUBERNETES_VERSION
from tests.support.tools import require_tool


def kubernetes_validate(tmp_path: Path, objects: list[dict]) -> subprocess.CompletedProcess:
    tool = require_tool("kubernetes-validate")
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    return subprocess.run(
        [tool, "-k", KUBERNETES_VERSION, "--strict", str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("controller, least", [("mltrainingjob", 10), ("mldeployment", 60)])
def test_every_emitted_child_passes_the_official_kubernetes_schema(tmp_path, controller, least):
    children = emitted_children(controller)
    assert len(children) >= least
    # kubernetes-validate knows the built-in kinds; HTTPRoutes are checked against their CRD below.
    builtin = [c for c in children if not c["apiVersion"].startswith("gateway.networking.k8s.io/")]
    result = kubernetes_validate(tmp_path, builtin)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout and "WARN" not in result.stdout


def test_a_broken_job_is_caught_by_the_schema_check(tmp_path):
    job = emitted_children("mltrainingjob")[0]
    job["spec"]["template"]["spec"]["containers"][0]["volumeMountz"] = []
    result = kubernetes_validate(tmp_path, [job])
    assert result.returncode != 0 and "volumeMountz" in result.stdout


MANIFESTS = CRDS + [ROOT / "manifests" / "rbac" / "control-api.yaml"]


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifests_pass_the_official_kubernetes_schema(tmp_path, path):
    result = kubernetes_validate(tmp_path, documents(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout
