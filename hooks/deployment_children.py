"""The children an MLDeployment's rollout asks for: the tracks' Deployments and Services, the
autoscaler, and the routes that split traffic between the tracks."""

from __future__ import annotations

from aurora_api.phases import Phase
from hooks import inference_objects as objects
from hooks.config import HookConfig
from hooks.decisions import is_mirroring
from hooks.observed import CHILD_KEYS, DEPLOYMENT_KEY, SERVICE_KEY, Observed
from hooks.plan import Plan
from hooks.rollout import Rollout
from hooks.routes import INGRESS_KEY, ROUTE_KEY, Split, header_of, kept_copy, route_children


def desired_children(seen: Observed, r: Rollout, plan: Plan, config: HookConfig) -> list[dict]:
    parent, spec = seen.parent, seen.spec
    stable_version = r.canary.version if r.phase == Phase.PROMOTING else r.stable_version
    # During a rollback the stable Service selects the previous version's pods, ready on both tracks.
    serving = r.stable_version if r.window.traffic_on_previous else None
    children = [
        objects.new_deployment(parent, spec, objects.STABLE, stable_version, plan.replicas, config),
        objects.new_service(parent, spec, objects.STABLE, version=serving),
    ]
    # The version a promotion replaces starts on the previous track while the promotion runs,
    # so that it is ready when the rollback window opens.
    replaced = r.stable_version if r.phase == Phase.PROMOTING and plan.window_seconds else ""
    if r.window.previous_version or replaced:
        version = r.window.previous_version or replaced
        children.append(objects.new_deployment(parent, spec, objects.PREVIOUS, version, plan.replicas, config))
    children += canary_children(seen, r, config)
    if spec.get("autoscaling"):
        children.append(objects.new_autoscaler(parent, spec))
    return children + routes(seen, r, plan)


def routes(seen: Observed, r: Rollout, plan: Plan) -> list[dict]:
    # The header route and mirroring start with the steps, once the canary's pods are ready.
    header = header_of(seen.spec) if r.canary.step_started is not None else None
    canary = bool(r.canary.version)
    split = Split(canary=canary, weight=r.canary.weight, header=header, mirror=is_mirroring(r, plan))
    observed_routes = {key: seen.children[key] for key in (INGRESS_KEY, ROUTE_KEY)}
    return route_children(seen.parent, seen.spec, split, observed_routes)


def canary_children(seen: Observed, r: Rollout, config: HookConfig) -> list[dict]:
    """The canary's Deployment and Service. A draining canary's are kept exactly as they run:
    its pods count predictions on the stable version's bounds, which a promotion changes, and a
    rebuilt template would start new pods only to remove them a moment later."""
    parent, spec = seen.parent, seen.spec
    if r.canary.version:
        replicas = spec["canary"]["replicas"]
        return [
            objects.new_deployment(parent, spec, objects.CANARY, r.canary.version, replicas, config, r.stable_version),
            objects.new_service(parent, spec, objects.CANARY),
        ]
    if not r.drain.version:
        return []
    name = objects.child_name(parent, objects.CANARY)
    running = [seen.children[key].get(name) for key in (DEPLOYMENT_KEY, SERVICE_KEY)]
    return [kept_copy(child) for child in running if child]


def kept_children(seen: Observed) -> list[dict]:
    """Every observed child as it is (for an invalid spec): an omitted child would be deleted."""
    return [kept_copy(child) for key in CHILD_KEYS for child in seen.children[key].values()]
