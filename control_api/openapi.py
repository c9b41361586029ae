"""The control API's OpenAPI 3 document (tests check it against the app's real routes)."""

from __future__ import annotations

OPEN = ("/health", "/metrics")
ERRORS = {
    "401": "missing or wrong X-API-Key",
    "404": "no such model, version or resource",
    "409": "the action does nothing in the resource's current state (e.g. no rollback window is open)",
    "502": "the Kubernetes API refused the request",
    "503": "the Kubernetes API is not reachable",
}
ROUTES = [
    ("get", "/health", "Liveness; needs no key"),
    ("get", "/metrics", "Prometheus metrics; needs no key"),
    ("get", "/openapi.json", "This document"),
    ("get", "/platform/info", "Aurora and Kubernetes versions, installed CRDs, features"),
    ("get", "/cluster/nodes", "Nodes: roles, readiness, kubelet version, capacity and allocatable"),
    ("get", "/cluster/storageclasses", "Storage classes, the default one, and which can serve ReadWriteMany"),
    ("get", "/models", "Models in the model store, with their latest version"),
    ("get", "/models/{model}/versions", "Versions of one model with their metrics"),
    ("get", "/trainingjobs", "MLTrainingJobs (all namespaces, or ?namespace=)"),
    ("get", "/deployments", "MLDeployments (all namespaces, or ?namespace=)"),
    ("post", "/deployments/{namespace}/{name}/promote", "Promote the running canary (sets aurora.dev/promote)"),
    ("post", "/deployments/{namespace}/{name}/abort", "Roll the running canary back (sets aurora.dev/abort)"),
    ("post", "/deployments/{namespace}/{name}/retry", "Start a rolled-back canary again (sets aurora.dev/retry)"),
    (
        "post",
        "/deployments/{namespace}/{name}/rollback",
        "Send all traffic back to the version the last promotion replaced (sets aurora.dev/rollback); "
        "409 when no rollback window is open",
    ),
]


def parameters(path: str) -> list[dict]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    found = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
    if path in ("/trainingjobs", "/deployments"):
        found.append({"name": "namespace", "in": "query", "required": False, "schema": {"type": "string"}})
    return found


def operation(method: str, path: str, summary: str) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}
    if path not in OPEN:
        responses.update({code: {"$ref": "#/components/responses/Error"} for code in ERRORS})
    found = {"summary": summary, "responses": responses, "parameters": parameters(path)}
    if path in OPEN:
        found["security"] = []
    return found


def document(version: str) -> dict:
    paths: dict = {}
    for method, path, summary in ROUTES:
        paths.setdefault(path, {})[method] = operation(method, path, summary)
    error = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Aurora control API", "version": version},
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "responses": {
                "Error": {
                    "description": "; ".join(f"{c}: {w}" for c, w in ERRORS.items()),
                    "content": {"application/json": {"schema": error}},
                }
            },
        },
    }
