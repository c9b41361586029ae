"""Builders of an MLDeployment's children: Deployments, Services and NGINX Ingresses per track,
a Gateway API HTTPRoute, and a HorizontalPodAutoscaler for the stable track.

Each builder returns a fresh object with only the fields we own (Metacontroller adds the
namespace, owner reference and controller-uid label). Pod selectors name the deployment
and track only, never the version: a Deployment's selector is immutable, while its
version changes in place when a canary is promoted.
"""

from __future__ import annotations

from aurora_api import labels as label
from hooks.config import HookConfig
from hooks.podsecurity import container_security_context, pod_security_context

STABLE, CANARY, PREVIOUS = "stable", "canary", "previous"
# Every track an MLDeployment may run; the previous one only in a rollback window.
TRACKS = (STABLE, CANARY, PREVIOUS)
PORT = 8080
# The Open Inference Protocol over gRPC, served by the same pods.
GRPC_PORT = 8081
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"
HEADER_ANNOTATION = "nginx.ingress.kubernetes.io/canary-by-header"
HEADER_VALUE_ANNOTATION = "nginx.ingress.kubernetes.io/canary-by-header-value"
MIRROR_ANNOTATION = "nginx.ingress.kubernetes.io/mirror-target"
SERVICE_PORT = 80
# Seconds a terminating pod keeps serving while endpoints and the ingress forget it.
PRE_STOP_SECONDS = 5


def child_name(parent: dict, track: str) -> str:
    return f"{parent['metadata']['name']}-{track}"


def selector(parent: dict, track: str) -> dict:
    return {label.DEPLOYMENT: parent["metadata"]["name"], label.TRACK: track}


def track_metadata(parent: dict, spec: dict, track: str) -> dict:
    """Name and labels of a track's Service, Ingress or autoscaler."""
    return {"name": child_name(parent, track), "labels": {**selector(parent, track), label.MODEL: spec["model"]}}


def pod_labels(parent: dict, spec: dict, track: str, version: str) -> dict:
    return {
        **selector(parent, track),
        label.MODEL: spec["model"],
        label.VERSION: version,
        "app.kubernetes.io/name": "aurora-server",
        "app.kubernetes.io/managed-by": "aurora",
    }


def new_deployment(
    parent: dict, spec: dict, track: str, version: str, replicas: int, config: HookConfig, buckets_from: str = ""
) -> dict:
    """A track's Deployment; the stable one's replicas are the HPA's when autoscaling is on
    (the caller passes the count the HPA chose, so the hook never fights it)."""
    labels = pod_labels(parent, spec, track, version)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": child_name(parent, track), "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(parent, track)},
            # Never below the wanted capacity during a version change.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": new_pod_spec(spec, track, version, config, buckets_from),
            },
        },
    }


def server_env(spec: dict, track: str, version: str, config: HookConfig, buckets_from: str = "") -> list[dict]:
    # A canary counts its predictions on the stable version's histogram bounds.
    buckets = [{"name": "AURORA_PREDICTION_BUCKETS_FROM", "value": buckets_from}] if buckets_from else []
    return buckets + [
        {"name": "AURORA_MODEL_ROOT", "value": config.models_mount},
        {"name": "AURORA_MODEL", "value": spec["model"]},
        {"name": "AURORA_MODEL_VERSION", "value": version},
        {"name": "AURORA_TRACK", "value": track},
        {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/tmp/metrics"},
    ]


def new_pod_spec(spec: dict, track: str, version: str, config: HookConfig, buckets_from: str = "") -> dict:
    image = spec.get("image") or config.server_image
    env = server_env(spec, track, version, config, buckets_from)
    mounts = [
        {"name": "models", "mountPath": config.models_mount, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    check = {
        "name": "check-model",
        "image": image,
        "command": ["aurora-serve", "check"],
        "env": env,
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    server = {
        "name": "server",
        "image": image,
        "command": ["aurora-serve", "--bind", f"0.0.0.0:{PORT}", "--grpc-bind", f"0.0.0.0:{GRPC_PORT}"],
        "env": env,
        "ports": [
            {"name": "http", "containerPort": PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": probe("/v2/health/ready", period=5, failures=2),
        "livenessProbe": probe("/v2/health/live", period=10, failures=3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "resources": spec.get("resources") or {},
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    return {
        # Inference pods hold no secrets and need no API access.
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(),
        "terminationGracePeriodSeconds": 45,
        "initContainers": [check],
        "containers": [server],
        "volumes": [
            {"name": "models", "persistentVolumeClaim": {"claimName": spec["storage"]["claimName"], "readOnly": True}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }


def probe(path: str, *, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def new_service(parent: dict, spec: dict, track: str, version: str | None = None) -> dict:
    """A track's Service; with `version`, it selects that version's pods on every track instead
    (a rollback sends traffic to the previous track's ready pods at once)."""
    if version:
        chosen = {label.DEPLOYMENT: parent["metadata"]["name"], label.VERSION: version}
    else:
        chosen = selector(parent, track)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": track_metadata(parent, spec, track),
        "spec": {
            "selector": chosen,
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
            ],
        },
    }


def new_ingress(
    parent: dict, spec: dict, track: str, weight: int | None = None, header: dict | None = None, mirror: bool = False
) -> dict:
    """The stable Ingress, or (with a weight) the NGINX canary Ingress for the same host and path;
    with `header`, requests carrying it go to the canary whatever its weight; with `mirror`, the
    stable Ingress copies every request to the canary Service (nginx discards the copy's answer)."""
    ingress = spec["ingress"]
    annotations = {CANARY_ANNOTATION: "true", WEIGHT_ANNOTATION: str(weight)} if track == CANARY else {}
    if track == STABLE and mirror:
        service = f"{child_name(parent, CANARY)}.{parent['metadata'].get('namespace', 'default')}.svc.cluster.local"
        annotations[MIRROR_ANNOTATION] = f"http://{service}$request_uri"
    if track == CANARY and header:
        annotations.update({HEADER_ANNOTATION: header["name"], HEADER_VALUE_ANNOTATION: header["value"]})
    path = {
        "path": ingress.get("path") or "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": child_name(parent, track), "port": {"name": "http"}}},
    }
    metadata = track_metadata(parent, spec, track)
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": {
            "ingressClassName": ingress.get("className") or "nginx",
            "rules": [{"host": ingress["host"], "http": {"paths": [path]}}],
        },
    }


def backend(parent: dict, track: str, weight: int | None = None) -> dict:
    ref = {"name": child_name(parent, track), "port": SERVICE_PORT}
    return ref if weight is None else {**ref, "weight": weight}


def new_http_route(
    parent: dict, spec: dict, weight: int, canary: bool, header: dict | None, mirror: bool = False
) -> dict:
    """One Gateway API HTTPRoute: a header rule to the canary first (when asked), then the weighted
    split; the canary backend only while a canary takes weight; with `mirror`, a RequestMirror
    filter copies the split's requests to the canary."""
    gateway = spec["traffic"]["gatewayAPI"]
    path = {"type": "PathPrefix", "value": gateway.get("path") or "/"}
    rules = []
    if canary and header:
        match = {"path": path, "headers": [{"type": "Exact", "name": header["name"], "value": header["value"]}]}
        rules.append({"matches": [match], "backendRefs": [backend(parent, CANARY)]})
    split = [backend(parent, STABLE, 100 - weight)] + ([backend(parent, CANARY, weight)] if canary and weight else [])
    weighted = {"matches": [{"path": path}], "backendRefs": split}
    if canary and mirror:
        weighted["filters"] = [{"type": "RequestMirror", "requestMirror": {"backendRef": backend(parent, CANARY)}}]
    rules.append(weighted)
    route_spec = {"parentRefs": gateway["parentRefs"], "rules": rules}
    if gateway.get("hostnames"):
        route_spec["hostnames"] = gateway["hostnames"]
    name = parent["metadata"]["name"]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "labels": {label.DEPLOYMENT: name, label.MODEL: spec["model"]}},
        "spec": route_spec,
    }


def new_autoscaler(parent: dict, spec: dict) -> dict:
    """An autoscaling/v2 HPA on the stable Deployment's CPU."""
    scaling = spec["autoscaling"]
    target = {"type": "Utilization", "averageUtilization": scaling["targetCPUUtilizationPercentage"]}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": track_metadata(parent, spec, STABLE),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": child_name(parent, STABLE)},
            "minReplicas": scaling["minReplicas"],
            "maxReplicas": scaling["maxReplicas"],
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }
