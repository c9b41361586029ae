"""Whether the Gateways carrying an MLDeployment's HTTPRoute can mirror requests.

A Gateway API implementation lists what it supports in its GatewayClass's
`status.supportedFeatures`. One that does not list `HTTPRouteRequestMirror` may still accept a
route with a RequestMirror filter and then fail every request it matches (Traefik v3.7 answers
500 while the route reads Accepted), so a mirror step emits the filter only when every
Gateway controller that accepted the HTTPRoute declares the feature; otherwise the step is held
with the reason. The controllers come from the route's own status (`status.parents[].
controllerName`), their GatewayClasses from the customize hook (related objects), so both
changes reach the hook as events.
"""

from __future__ import annotations

MIRROR_FEATURE = "HTTPRouteRequestMirror"
GATEWAY_CLASS_KEY = "GatewayClass.gateway.networking.k8s.io/v1"
GATEWAY_CLASSES = {"apiVersion": "gateway.networking.k8s.io/v1", "resource": "gatewayclasses", "labelSelector": {}}
HOLD_ADVICE = "the mirror step is held (aurora.dev/promote skips it, aurora.dev/abort ends the rollout)"


def accepting_controllers(route: dict | None) -> set[str]:
    """The controllers that accepted the route, from its status."""
    parents = ((route or {}).get("status") or {}).get("parents") or []
    return {
        parent["controllerName"]
        for parent in parents
        if isinstance(parent, dict)
        and isinstance(parent.get("controllerName"), str)
        and any(c.get("type") == "Accepted" and c.get("status") == "True" for c in parent.get("conditions") or [])
    }


def supported_features(gateway_class: dict) -> set[str]:
    features = (gateway_class.get("status") or {}).get("supportedFeatures") or []
    return {f.get("name") if isinstance(f, dict) else f for f in features}


def mirror_blocker(route: dict | None, classes: dict[str, dict]) -> str | None:
    """Why the route's Gateways cannot mirror its requests; None when every one can.
    `classes` are the observed GatewayClasses by name."""
    controllers = accepting_controllers(route)
    if not controllers:
        return f"no Gateway has accepted the HTTPRoute yet, so none is known to mirror: {HOLD_ADVICE}"
    for controller in sorted(controllers):
        mine = sorted(name for name, c in classes.items() if (c.get("spec") or {}).get("controllerName") == controller)
        lacking = [name for name in mine if MIRROR_FEATURE not in supported_features(classes[name])]
        if not mine:
            return f"no GatewayClass of {controller} is known, so none says it can mirror: {HOLD_ADVICE}"
        if lacking:
            return (
                f"GatewayClass {lacking[0]} of {controller} does not list {MIRROR_FEATURE} in "
                f"status.supportedFeatures, and a RequestMirror filter could break the route for users: {HOLD_ADVICE}"
            )
    return None
