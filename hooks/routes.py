"""How requests reach an MLDeployment's tracks: NGINX Ingresses, or one Gateway API HTTPRoute.

Both routers follow the rollout's canary weight exactly, and both send requests carrying
`traffic.canaryHeader` to the canary whatever its weight. Switching routers on a live
MLDeployment keeps the old router's routes, exactly as they are, until the new router's
route is observed: there is never a moment with no route.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from hooks import inference_objects as objects

NGINX, GATEWAY_API = "nginx", "gatewayAPI"
ROUTERS = (NGINX, GATEWAY_API)
INGRESS_KEY = "Ingress.networking.k8s.io/v1"
ROUTE_KEY = "HTTPRoute.gateway.networking.k8s.io/v1"
# The patterns of the Gateway API's HTTPRoute CRD for a host name and a header name.
HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]+")


class Split(NamedTuple):
    """What the routes must say: is there a canary to route to, its weight, and the header route."""

    canary: bool
    weight: int
    header: dict | None
    mirror: bool = False  # stable's requests are copied to the canary, its answers discarded


def router_of(spec: dict) -> str:
    return (spec.get("traffic") or {}).get("router") or NGINX


def header_of(spec: dict) -> dict | None:
    return (spec.get("traffic") or {}).get("canaryHeader")


def route_errors(spec: dict) -> list[str]:
    traffic = spec.get("traffic") or {}
    router, errors = router_of(spec), []
    if router not in ROUTERS:
        errors.append(f"spec.traffic.router {router!r} must be one of {', '.join(ROUTERS)}")
    if router == GATEWAY_API and not (traffic.get("gatewayAPI") or {}).get("parentRefs"):
        errors.append("spec.traffic.gatewayAPI.parentRefs must name at least one Gateway when router is gatewayAPI")
    if traffic.get("router") == NGINX and not spec.get("ingress"):
        errors.append("spec.traffic.router nginx needs spec.ingress (its host and path)")
    header = traffic.get("canaryHeader")
    if header is not None and not (isinstance(header.get("name"), str) and HEADER_NAME.fullmatch(header["name"])):
        errors.append(f"spec.traffic.canaryHeader.name {header.get('name')!r} must be an HTTP header name")
    elif header is not None and not header.get("value"):
        errors.append("spec.traffic.canaryHeader needs a value")
    return errors + gateway_errors(traffic.get("gatewayAPI") or {})


def gateway_errors(gateway: dict) -> list[str]:
    """What the Gateway API's own HTTPRoute schema would refuse, said here, before any apply fails."""
    errors = []
    for i, ref in enumerate(gateway.get("parentRefs") or []):
        if not (isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]):
            errors.append(f"spec.traffic.gatewayAPI.parentRefs[{i}] needs a name")
    for name in gateway.get("hostnames") or []:
        if not HOSTNAME.fullmatch(name):
            errors.append(f"spec.traffic.gatewayAPI.hostnames: {name!r} is not a lower-case host name")
    return errors


def nginx_routes(parent: dict, spec: dict, split: Split) -> list[dict]:
    if not spec.get("ingress"):
        return []
    routes = [objects.new_ingress(parent, spec, objects.STABLE, mirror=split.canary and split.mirror)]
    # A canary Ingress that routes nothing (weight 0, no header route) is left out.
    if split.canary and (split.weight > 0 or split.header):
        routes.append(objects.new_ingress(parent, spec, objects.CANARY, split.weight, split.header))
    return routes


def gateway_routes(parent: dict, spec: dict, split: Split) -> list[dict]:
    return [objects.new_http_route(parent, spec, split.weight, split.canary, split.header, split.mirror)]


def route_children(parent: dict, spec: dict, split: Split, observed: dict[str, dict]) -> list[dict]:
    """The chosen router's routes, and the other router's as observed until the new ones exist."""
    if router_of(spec) == GATEWAY_API:
        new, old_key, arrived = gateway_routes(parent, spec, split), INGRESS_KEY, ROUTE_KEY
    else:
        new, old_key, arrived = nginx_routes(parent, spec, split), ROUTE_KEY, INGRESS_KEY
    names = {route["metadata"]["name"] for route in new}
    if not new or names <= set(observed.get(arrived, {})):
        return new
    return new + [kept_copy(child) for child in observed.get(old_key, {}).values()]


def kept_copy(child: dict) -> dict:
    """An observed child as the hook would write it: its spec, name, labels and annotations."""
    metadata = child.get("metadata") or {}
    annotations = {
        k: v for k, v in (metadata.get("annotations") or {}).items() if not k.startswith("metacontroller.k8s.io/")
    }
    fresh = {"name": metadata.get("name"), "labels": metadata.get("labels") or {}}
    if annotations:
        fresh["annotations"] = annotations
    return {
        "apiVersion": child.get("apiVersion"),
        "kind": child.get("kind"),
        "metadata": fresh,
        "spec": child.get("spec") or {},
    }
