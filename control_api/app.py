"""The control API: `create_app()` serves read-only information and rollout actions.

Thin views over control_api.info; Kubernetes through control_api.kube; the model store
read-only through trainer.store. Every route but /health and /metrics needs X-API-Key.
"""

from __future__ import annotations

import hmac
import logging
import re
import uuid
from datetime import UTC, datetime
from importlib import metadata

from flask import Flask, jsonify, request
from prometheus_client import CollectorRegistry
from prometheus_flask_exporter import PrometheusMetrics
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from aurora_api.actions import Action, rollback_refusal
from aurora_api.status import read_status
from control_api import info, openapi
from control_api.config import ApiConfig
from control_api.errors import (
    AppError,
    ClusterRefused,
    ClusterUnavailable,
    Conflict,
    InvalidRequest,
    NotFound,
    Unauthorized,
)
from control_api.kube import CRDS, Kube
from trainer import store

log = logging.getLogger("aurora.control_api")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def aurora_version() -> str:
    try:
        return metadata.version("aurora-mlops")
    except metadata.PackageNotFoundError:
        return "unknown"


def checked_label(value: str | None, what: str) -> str | None:
    if value is not None and not DNS_LABEL.match(value):
        raise InvalidRequest(f"{what} {value!r} is not a DNS-1123 label")
    return value


def create_app(config: ApiConfig | None = None, *, kube: Kube | None = None) -> Flask:
    """Refuses to build without an API key (ApiConfig.from_env raises ConfigError)."""
    config = config or ApiConfig.from_env()
    kube = kube or Kube(timeout=config.kube_timeout)
    model_store = store.ModelStore(config.model_root)
    app = Flask(__name__)
    # Nothing the API accepts has a body; refuse large ones before reading them.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    PrometheusMetrics(app, registry=CollectorRegistry(), defaults_prefix="aurora_control_api", group_by="endpoint")
    register_auth(app, config.api_key)
    register_errors(app)
    register_info_routes(app, kube, model_store, config)
    register_action_routes(app, kube)
    return app


def register_auth(app: Flask, api_key: str) -> None:
    expected = api_key.encode()

    @app.before_request
    def require_key():
        # No route reads a body, so an oversized one is refused before anything else happens.
        if (request.content_length or 0) > (app.config["MAX_CONTENT_LENGTH"] or 0):
            raise RequestEntityTooLarge()
        if request.path in openapi.OPEN:
            return None
        given = (request.headers.get("X-API-Key") or "").encode()
        # Constant time, so the key cannot be guessed byte by byte from response times.
        if not hmac.compare_digest(given, expected):
            raise Unauthorized("missing or wrong X-API-Key")
        return None


def register_errors(app: Flask) -> None:
    @app.errorhandler(AppError)
    def app_error(err: AppError):
        return jsonify(error=err.message), err.status

    @app.errorhandler(store.StoreError)
    def store_error(err: store.StoreError):
        status = 404 if isinstance(err, store.VersionNotFound) else 400
        return jsonify(error=str(err)), status

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        return jsonify(error=err.description or err.name), err.code or 500

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify(error="internal error"), 500


def register_info_routes(app: Flask, kube: Kube, model_store: store.ModelStore, config: ApiConfig) -> None:
    version = aurora_version()
    routes = {
        "/health": lambda: {"status": "ok"},
        "/openapi.json": lambda: openapi.document(version),
        "/platform/info": lambda: {"aurora": version, "features": list(config.features), **cluster_facts(kube)},
        "/cluster/nodes": lambda: {"nodes": [info.info_node(n) for n in kube.nodes()]},
        "/cluster/storageclasses": lambda: {
            "storageClasses": [info.info_storage_class(s) for s in kube.storage_classes()]
        },
        "/models": lambda: {"models": info.info_models(model_store)},
        "/trainingjobs": lambda: {
            "trainingJobs": [info.info_training_job(j) for j in kube.custom_objects("trainingjobs", namespace_arg())]
        },
        "/deployments": lambda: {
            "deployments": [info.info_deployment(d) for d in kube.custom_objects("deployments", namespace_arg())]
        },
    }
    for path, view in routes.items():
        app.add_url_rule(path, endpoint=path, view_func=lambda view=view: jsonify(view()))
    app.add_url_rule(
        "/models/<model>/versions",
        endpoint="model_versions",
        view_func=lambda model: jsonify(info.info_model_versions(model_store, model)),
    )


def cluster_facts(kube: Kube) -> dict:
    """Kubernetes' version and which CRDs are installed; what went wrong in place of what could not be read."""
    facts = {"kubernetes": {"reachable": True}}
    try:
        facts["kubernetes"]["version"] = kube.version().get("gitVersion")
        facts["crdsInstalled"] = {group: all(kube.crd_installed(n) for n in names) for group, names in CRDS.items()}
    except ClusterUnavailable as err:
        facts["kubernetes"] = {"reachable": False, "error": err.message}
    except ClusterRefused as err:
        # Reached, but it would not tell us: the API still answers with what it knows.
        facts["kubernetes"]["error"] = err.message
    return facts


def namespace_arg() -> str | None:
    return checked_label(request.args.get("namespace"), "namespace")


def register_action_routes(app: Flask, kube: Kube) -> None:
    def act(namespace: str, name: str, action: str):
        if action not in set(Action):
            raise NotFound(f"no action {action!r}; actions are {', '.join(Action)}")
        action = Action(action)
        checked_label(namespace, "namespace")
        checked_label(name, "name")
        if action is Action.ROLLBACK:
            refused = rollback_refusal(read_status(kube.deployment(namespace, name)), datetime.now(UTC))
            if refused:
                raise Conflict(refused)
        # A fresh value each time: the controller acts once per new value.
        value = uuid.uuid4().hex
        kube.annotate_deployment(namespace, name, action.annotation, value)
        log.info("set %s on %s/%s", action.annotation, namespace, name)
        return jsonify(namespace=namespace, name=name, annotation=action.annotation, value=value)

    app.add_url_rule(
        "/deployments/<namespace>/<name>/<action>", endpoint="deployment_action", view_func=act, methods=["POST"]
    )
