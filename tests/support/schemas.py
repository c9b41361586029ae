"""Schemas the tests check objects against: a CRD's openAPIV3Schema as the API server applies it
(unknown fields refused), and upstream CRDs kept beside the checkout (../shared/schemas)."""

from __future__ import annotations

import os

import jsonschema
import pytest

from tests.support.documents import documents
from tests.support.paths import ROOT

SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"
KUBERNETES_VERSION = "1.33"
# Aurora's own CRDs.
CRDS = sorted((ROOT / "manifests" / "crds").glob("*.aurora.dev.yaml"))


def strict(schema):
    """Refuse unknown fields unless the schema preserves them, like the API server's strict validation."""
    if isinstance(schema, dict):
        if schema.get("nullable") and isinstance(schema.get("type"), str):
            schema = {**schema, "type": [schema["type"], "null"]}
        if "properties" in schema and "additionalProperties" not in schema:
            if not schema.get("x-kubernetes-preserve-unknown-fields"):
                schema = {**schema, "additionalProperties": False}
        return {key: strict(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [strict(value) for value in schema]
    return schema


def crd_validator(crd: dict) -> jsonschema.Validator:
    """A validator of the CRD's stored version, strict as the API server is."""
    version = next(v for v in crd["spec"]["versions"] if v.get("served") and v.get("storage"))
    schema = strict(version["schema"]["openAPIV3Schema"])
    schema["properties"] = {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        **schema.get("properties", {}),
    }
    return jsonschema.Draft4Validator(schema)


def errors_of(validator: jsonschema.Validator, document: dict) -> list[str]:
    """Every error of the document, as `field.path: message`."""
    return [f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def upstream_crds(file_name: str) -> dict[str, dict]:
    """Upstream CRDs kept beside the checkout (../shared/schemas); required under CI=true."""
    path = SHARED_SCHEMAS / file_name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is required in CI but is missing")
        pytest.skip(f"{path} is not beside this checkout")
    return {d["metadata"]["name"]: d for d in documents(path)}
