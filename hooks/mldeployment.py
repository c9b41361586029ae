"""Sync hook of the MLDeployment controller (aurora.dev/v1alpha1): progressive delivery of model versions.

Request and response are Metacontroller's CompositeController hook bodies
(https://metacontroller.github.io/metacontroller/api/compositecontroller.html).
Everything is pure: the clock comes in as `now`, Prometheus's numbers through `read_metrics`.
A sync reads the request once (observed.py), checks the spec (deployment_spec.py), reads the
rollout from the previous status (rollout.py), applies every decision in order
(decisions.py), then builds the children (deployment_children.py) and the status
(deployment_status.py).
"""

from __future__ import annotations

from datetime import datetime

from aurora_api.names import is_valid_version
from aurora_api.phases import Phase
from aurora_api.reasons import ConditionType, Reason
from hooks.children import missing_children, retry_seconds, sooner
from hooks.conditions import Condition
from hooks.config import HookConfig
from hooks.decisions import decide, initial_rollout, is_analysis_due, next_wakeup
from hooks.deployment_children import desired_children, kept_children
from hooks.deployment_spec import has_mirror_step, read_spec, spec_errors
from hooks.deployment_status import compute_status, is_phase, waiting_status
from hooks.gateway_features import GATEWAY_CLASSES, mirror_blocker
from hooks.observed import Observed, read_observed, running_version
from hooks.plan import Plan, new_plan
from hooks.request import parent_parts
from hooks.rollout import Rollout, read_rollout
from hooks.routes import GATEWAY_API, ROUTE_KEY, router_of
from hooks.scaling import stable_scale
from hooks.version_source import Resolved, related_rules, resolve_version


def sync(request: dict, *, now: datetime, observations: dict | None, config: HookConfig | None = None) -> dict:
    """Metacontroller sync hook: the tracks' children and the MLDeployment's status."""
    return reconcile(request, now=now, read_metrics=lambda window: observations, config=config)


def reconcile(request: dict, *, now: datetime, read_metrics, config: HookConfig | None = None) -> dict:
    """sync(), asking `read_metrics(window)` for Prometheus's numbers only when a check is due."""
    config = config or HookConfig()
    seen = read_observed(request)
    errors = spec_errors(seen.spec, seen.name, seen.wrong_types)
    if errors:
        return invalid_response(seen, errors, now)
    resolved = resolve_version(seen.spec, seen.training_jobs, seen.status, running_version(seen.tracks))
    if not resolved.version:
        return {"status": waiting_status(seen, resolved, now), "children": []}
    scale = stable_scale(seen.spec, seen.tracks.stable, seen.status, seen.generation)
    plan = new_plan(seen, resolved.version, scale.replicas, config, router_mirror_blocker(seen))
    r = initial_rollout(seen.status, resolved.version, seen.tracks)
    window = due_window(seen, r, plan, now)
    r = decide(r, plan, seen, read_metrics(window) if window else None, now)
    children = desired_children(seen, r, plan, config)
    wakeup = next_wakeup(r, plan, now)
    if missing_children(seen.children, children):
        wakeup = sooner(wakeup, retry_seconds(seen.parent, now))
    response = {"status": compute_status(seen, r, resolved, now, scale), "children": children}
    return {**response, "resyncAfterSeconds": wakeup} if wakeup else response


def analysis_window(request: dict, now: datetime) -> dict | None:
    """What the HTTP layer must read from Prometheus for this sync, or None when no check is due."""
    seen = read_observed(request)
    if spec_errors(seen.spec, seen.name, seen.wrong_types):
        return None
    resolved = resolve_version(seen.spec, seen.training_jobs, seen.status, running_version(seen.tracks))
    if not resolved.version:
        return None
    plan = new_plan(seen, resolved.version, seen.spec["replicas"], HookConfig())
    return due_window(seen, read_rollout(seen.status, resolved.version), plan, now)


def due_window(seen: Observed, r: Rollout, plan: Plan, now: datetime) -> dict | None:
    if not is_analysis_due(r, plan, now):
        return None
    return {
        "namespace": seen.namespace,
        "model": seen.spec["model"],
        "canaryVersion": r.canary.version,
        "stableVersion": r.stable_version,
        "windowSeconds": plan.interval_seconds,
        # Against stable, both tracks' latency histograms are read as well.
        "latencyBuckets": bool(plan.analysis.get("baseline")),
    }


def invalid_response(seen: Observed, errors: list[str], now: datetime) -> dict:
    """Keep serving what runs: every observed child stays as it is; the status says which field is wrong."""
    r = read_rollout(seen.status, running_version(seen.tracks))
    if seen.tracks.stable is None and not is_phase(seen.status.get("phase")):
        r = r._replace(phase=Phase.FAILED)
    recorded = seen.status.get("desiredVersion")
    kept = Resolved(
        recorded if isinstance(recorded, str) and is_valid_version(recorded) else "",
        Condition(ConditionType.VERSION_RESOLVED, False, Reason.INVALID_SPEC, "the spec is invalid: see InvalidSpec"),
    )
    status = compute_status(seen, r, kept, now, errors=errors)
    # What autoscaling left is kept too: a later valid spec still holds the HPA's count.
    status.update({k: seen.status[k] for k in ("autoscaled", "heldReplicas", "heldGeneration") if k in seen.status})
    return {"status": status, "children": kept_children(seen)}


def router_mirror_blocker(seen: Observed) -> str | None:
    """Why the router cannot mirror: only a Gateway API router is asked (NGINX has no way to say)."""
    if router_of(seen.spec) != GATEWAY_API or not has_mirror_step(seen.spec):
        return None
    return mirror_blocker(seen.children[ROUTE_KEY].get(seen.name), seen.gateway_classes)


def customize(request: dict) -> dict:
    """Metacontroller customize hook: the MLTrainingJob that spec.versionFrom follows, if any, and
    the GatewayClasses, when a Gateway API route has a mirror step (can they mirror?)."""
    parent, written, _ = parent_parts(request)
    spec, _ = read_spec(written)
    rules = related_rules(spec, parent["metadata"].get("namespace", ""))
    if router_of(spec) == GATEWAY_API and has_mirror_step(spec):
        rules.append(GATEWAY_CLASSES)
    return {"relatedResources": rules}
