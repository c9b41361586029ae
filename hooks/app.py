"""The hook service: Metacontroller webhooks for every Aurora controller.

One adapter, `webhook()`, turns a pure hook into a route: parse the body, inject `now`
and the configuration, call, answer. A malformed body gets 400 and an unexpected
error 500: Metacontroller then changes nothing and retries. Nothing but a computed
answer is ever sent with 200, because a 200 with missing children deletes them.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from werkzeug.exceptions import RequestEntityTooLarge

from hooks import mldeployment, mltrainingjob
from hooks.config import HookConfig
from hooks.errors import MalformedRequest
from hooks.metrics import HookMetrics
from hooks.prometheus import PrometheusClient

log = logging.getLogger("aurora.hooks")


def utc_now() -> datetime:
    return datetime.now(UTC)


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def read_body() -> dict:
    try:
        body = json.loads(request.get_data(cache=False) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MalformedRequest(f"the body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise MalformedRequest("the body must be a JSON object")
    return body


def sync_log(controller: str, hook: str, body: dict, answer: dict, result: str, seconds: float) -> None:
    """One JSON line per call: which object, what phase, how long."""
    parent = body.get("parent") if isinstance(body, dict) else None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    line = {
        "controller": controller,
        "hook": hook,
        "namespace": metadata.get("namespace"),
        "name": metadata.get("name"),
        "phase": (answer.get("status") or {}).get("phase"),
        "result": result,
        "durationMs": round(seconds * 1000, 2),
    }
    if "prometheus_seconds" in g:
        line["prometheusMs"] = round(g.prometheus_seconds * 1000, 2)
    log.info(json.dumps(line, separators=(",", ":")))


def webhook(controller: str, hook: str, handler: Callable[[dict], dict], metrics: HookMetrics):
    """A Flask view answering Metacontroller for one pure hook."""

    def view():
        started, body, answer = time.perf_counter(), {}, {}
        try:
            body = read_body()
            answer = handler(body)
            result, response = "ok", json_response(answer)
            if (controller, hook) == ("mldeployment", "sync"):
                metrics.record_transition(body, answer)
        except MalformedRequest as err:
            result, response = "bad_request", json_response({"error": str(err)}, 400)
        except RequestEntityTooLarge as err:
            result, response = "bad_request", json_response({"error": err.description}, 413)
        except Exception as err:  # the boundary: never a 200 that could delete children
            log.exception("%s %s hook failed", controller, hook)
            result, response = "error", json_response({"error": f"internal error: {type(err).__name__}"}, 500)
        seconds = time.perf_counter() - started
        metrics.record(controller, hook, result, seconds)
        sync_log(controller, hook, body, answer, result, seconds)
        return response

    view.__name__ = f"{controller}_{hook}"
    return view


def metrics_view(registry: CollectorRegistry):
    def view():
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            collected = CollectorRegistry()
            multiprocess.MultiProcessCollector(collected)
            return Response(generate_latest(collected), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return view


def mldeployment_handler(
    config: HookConfig, clock: Callable[[], datetime], prometheus: PrometheusClient | None, metrics: HookMetrics
):
    """Read Prometheus only when the reconciler says a check is due, then reconcile. The read's
    time goes to the call's log line and to a histogram of its own: a slow Prometheus shows there."""

    def read_metrics(window: dict) -> dict | None:
        if prometheus is None:
            return None
        started = time.perf_counter()
        observations = prometheus.observe(window)
        g.prometheus_seconds = time.perf_counter() - started
        metrics.record_read(observations is not None, g.prometheus_seconds)
        return observations

    def handle(body: dict) -> dict:
        return mldeployment.reconcile(body, now=clock(), read_metrics=read_metrics, config=config)

    return handle


def create_app(
    config: HookConfig | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    prometheus: PrometheusClient | None = None,
) -> Flask:
    """The hook service; `clock` is the only source of time (tests pass a fixed one)."""
    config = config or HookConfig.from_env()
    if prometheus is None and config.prometheus_url:
        prometheus = PrometheusClient(config.prometheus_url)
    app = Flask(__name__)
    # Metacontroller bodies carry every observed child; 16 MiB is far above any real one.
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    metrics = HookMetrics(CollectorRegistry())
    hooks = {
        ("mltrainingjob", "sync"): lambda body: mltrainingjob.sync(body, now=clock(), config=config),
        ("mltrainingjob", "customize"): mltrainingjob.customize,
        ("mldeployment", "sync"): mldeployment_handler(config, clock, prometheus, metrics),
        ("mldeployment", "customize"): mldeployment.customize,
    }
    for (controller, hook), handler in hooks.items():
        app.add_url_rule(
            f"/{controller}/{hook}", view_func=webhook(controller, hook, handler, metrics), methods=["POST"]
        )
    app.add_url_rule("/healthz", view_func=lambda: json_response({"ok": True}), endpoint="healthz")
    app.add_url_rule("/metrics", view_func=metrics_view(metrics.registry), endpoint="metrics")
    return app
