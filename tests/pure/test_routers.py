"""Both traffic routers through whole rollouts, header-routed canaries, switching routers, and
autoscaling of the stable track, played tick by tick."""

from __future__ import annotations

import pytest

from hooks import mldeployment
from tests.support.schemas import crd_validator, errors_of, upstream_crds
from tests.support.ticked_rollout import (
    AUTOSCALERS,
    BAD,
    DEPLOYMENTS,
    GATEWAY,
    GATEWAY_CLASSES,
    GOOD,
    INGRESSES,
    MIRRORING,
    NEW,
    OLD,
    ROUTERS,
    ROUTES,
    SLOW,
    TRAEFIK,
    TickedRollout,
    gateway_class,
    keyed,
    new_parent,
    run_until,
    started,
)

HEADER = {"name": "X-Aurora-Canary", "value": "always"}
HTTP_ROUTE = crd_validator(
    upstream_crds("gateway.networking.k8s.io_httproutes.yaml")["httproutes.gateway.networking.k8s.io"]
)


def scenario(kind: str, router: str) -> list[tuple]:
    """One rollout, tick by tick: (phase, weight on the route carrying traffic, traffic shares)."""
    rollout = started(metrics={"healthy": GOOD, "bad": BAD, "slow": SLOW, "abort": GOOD}[kind], router=router)
    seen = []
    for tick in range(14):
        if kind == "abort" and tick == 3:
            rollout.annotate("abort", "stop")
        status = rollout.tick()
        seen.append((status["phase"], rollout.weight_on_route(), rollout.traffic()))
        for route in rollout.cluster.children[ROUTES].values():
            # As the hook writes it: the status is the Gateway controller's.
            assert errors_of(HTTP_ROUTE, {k: v for k, v in route.items() if k != "status"}) == []
    return seen


@pytest.mark.parametrize("kind", ["healthy", "bad", "slow", "abort"])
def test_both_routers_carry_the_same_weights_tick_by_tick(kind):
    nginx, gateway = scenario(kind, "nginx"), scenario(kind, "gatewayAPI")
    assert nginx == gateway
    phases = {phase for phase, _, _ in nginx}
    assert ("Stable" in phases and "Promoting" in phases) if kind == "healthy" else "RolledBack" in phases
    assert all("unanswered" not in traffic for _, _, traffic in nginx + gateway)


def test_the_http_route_splits_between_the_two_services_and_drops_the_canary_at_zero():
    rollout = started(router="gatewayAPI")
    rollout.tick()
    rollout.tick()
    route = rollout.cluster.children[ROUTES]["housing"]
    assert route["spec"]["parentRefs"] == GATEWAY["parentRefs"] and route["spec"]["hostnames"] == ["h.example.com"]
    assert rollout.route_weights() == {"housing-stable": 90, "housing-canary": 10}
    assert rollout.cluster.children[INGRESSES] == {}
    run_until(rollout, "Stable")
    assert rollout.route_weights() == {"housing-stable": 100}


@pytest.mark.parametrize("router", ROUTERS)
def test_a_header_reaches_the_canary_before_it_takes_any_weight(router):
    parent = new_parent(steps=[{"pause": {}}, {"setWeight": 20}], router=router, traffic=None)
    parent["spec"]["traffic"] = {"router": router, "canaryHeader": HEADER}
    if router == "gatewayAPI":
        parent["spec"]["traffic"]["gatewayAPI"] = GATEWAY
    rollout = started(parent)
    run_until(rollout, "Paused")
    assert not rollout.weight_on_route()  # no weight: only the header reaches the canary
    if router == "nginx":
        canary = rollout.cluster.children[INGRESSES]["housing-canary"]["metadata"]["annotations"]
        assert canary["nginx.ingress.kubernetes.io/canary-by-header"] == HEADER["name"]
        assert canary["nginx.ingress.kubernetes.io/canary-by-header-value"] == HEADER["value"]
    else:
        first = rollout.cluster.children[ROUTES]["housing"]["spec"]["rules"][0]
        assert first["matches"][0]["headers"] == [{"type": "Exact", **HEADER}]
        assert first["backendRefs"] == [{"name": "housing-canary", "port": 80}]
    run_until_promoted = [rollout.annotate("promote", "go"), run_until(rollout, "Stable")]
    assert run_until_promoted and not rollout.cluster.children[INGRESSES].get("housing-canary")
    if router == "gatewayAPI":
        assert len(rollout.cluster.children[ROUTES]["housing"]["spec"]["rules"]) == 1


@pytest.mark.parametrize("before, after", [("nginx", "gatewayAPI"), ("gatewayAPI", "nginx")])
def test_switching_routers_keeps_the_old_route_until_the_new_one_exists(before, after):
    rollout = TickedRollout(new_parent(router=before))
    rollout.tick(5)
    rollout.tick(5)
    traffic = {"traffic": {"router": after, "gatewayAPI": GATEWAY}}
    rollout.set(**traffic, **({"ingress": {"host": "h.example.com"}} if after == "nginx" else {}))
    present = []
    for _ in range(3):
        rollout.tick(5)
        present.append((bool(rollout.cluster.children[INGRESSES]), bool(rollout.cluster.children[ROUTES])))
        assert rollout.traffic() == {OLD: 1.0}
    assert present[0] == (True, True)  # both routes during the switch: never none
    assert present[-1] == ((True, False) if after == "nginx" else (False, True))


def test_switching_routers_mid_rollout_keeps_the_canarys_weight():
    rollout = started()
    for _ in range(4):
        rollout.tick()
    weight = rollout.weight_on_route()
    rollout.set(traffic={"router": "gatewayAPI", "gatewayAPI": GATEWAY})
    rollout.tick(1)
    rollout.tick(1)
    assert rollout.cluster.children[INGRESSES] == {} and rollout.status["phase"] == "Progressing"
    assert rollout.weight_on_route() == rollout.status["canaryWeight"] >= weight > 0


# Autoscaling


def autoscaled(**scaling) -> TickedRollout:
    rollout = TickedRollout(new_parent(autoscaling={"minReplicas": 2, "maxReplicas": 10, **scaling}))
    rollout.tick(5)
    rollout.tick(5)
    return rollout


def hpa_scales(rollout: TickedRollout, replicas: int) -> None:
    """What the HPA controller does: set the stable Deployment's replicas."""
    rollout.cluster.children[DEPLOYMENTS]["housing-stable"]["spec"]["replicas"] = replicas
    rollout.become_ready()


def stable_replicas(rollout: TickedRollout) -> int:
    return rollout.cluster.children[DEPLOYMENTS]["housing-stable"]["spec"]["replicas"]


def test_an_hpa_owns_the_stable_tracks_replicas_and_its_choice_survives_ten_syncs():
    rollout = autoscaled(targetCPUUtilizationPercentage=60)
    (hpa,) = rollout.cluster.children[AUTOSCALERS].values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "housing-stable"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 60}
    hpa_scales(rollout, 7)
    updates = len(rollout.cluster.updated)
    for _ in range(10):
        rollout.tick()
        assert stable_replicas(rollout) == 7
    assert len(rollout.cluster.updated) == updates  # the hook never wrote the Deployment back
    assert rollout.status["ready"] == "7/7" and rollout.status["autoscaled"] is True


def test_a_promotion_under_autoscaling_rolls_out_on_the_hpas_count():
    rollout = autoscaled()
    hpa_scales(rollout, 5)
    rollout.set(version=NEW)
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW and stable_replicas(rollout) == 5
    assert rollout.cluster.children[DEPLOYMENTS]["housing-previous"]["spec"]["replicas"] == 5


def test_turning_autoscaling_on_keeps_the_pods_running():
    rollout = TickedRollout(new_parent(replicas=4))
    rollout.tick(5)
    rollout.tick(5)
    rollout.set(autoscaling={"minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 70})
    rollout.tick(settle=False)
    assert stable_replicas(rollout) == 4 and rollout.cluster.children[AUTOSCALERS]


def test_turning_autoscaling_off_holds_the_count_until_the_spec_changes():
    rollout = autoscaled()
    hpa_scales(rollout, 6)
    rollout.tick()
    del rollout.cluster.parent["spec"]["autoscaling"]
    rollout.set()
    for _ in range(3):
        rollout.tick()
        assert stable_replicas(rollout) == 6 and rollout.cluster.children[AUTOSCALERS] == {}
    assert rollout.status["heldReplicas"] == 6
    rollout.set(replicas=3)  # kubectl scale mld/housing --replicas=3
    rollout.tick()
    assert stable_replicas(rollout) == 3 and "heldReplicas" not in rollout.status


@pytest.mark.parametrize(
    "scaling, says",
    [
        ({"minReplicas": 5, "maxReplicas": 2, "targetCPUUtilizationPercentage": 70}, "at most maxReplicas"),
        ({"minReplicas": 1, "maxReplicas": 2, "targetCPUUtilizationPercentage": 170}, "within 1..100"),
    ],
)
def test_a_wrong_autoscaling_spec_keeps_what_runs(scaling, says):
    rollout = autoscaled()
    hpa_scales(rollout, 4)
    rollout.set(autoscaling=scaling)
    status = rollout.tick()
    invalid = next(c for c in status["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True" and says in invalid["message"]
    assert stable_replicas(rollout) == 4 and rollout.cluster.children[AUTOSCALERS]


@pytest.mark.parametrize(
    "traffic, says",
    [
        ({"router": "gatewayAPI", "gatewayAPI": {"parentRefs": [{"gateway": "public"}]}}, "parentRefs[0] needs a name"),
        (
            {"router": "gatewayAPI", "gatewayAPI": {**GATEWAY, "hostnames": ["API.Example.com"]}},
            "not a lower-case host",
        ),
        ({"router": "nginx", "canaryHeader": {"name": "X Canary:", "value": "1"}}, "must be an HTTP header name"),
    ],
)
def test_routes_the_gateway_api_would_refuse_are_an_invalid_spec_that_keeps_what_runs(traffic, says):
    rollout = TickedRollout(new_parent())
    rollout.tick(5)
    rollout.tick(5)
    rollout.set(traffic=traffic)
    status = rollout.tick()
    invalid = next(c for c in status["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True" and says in invalid["message"]
    assert rollout.cluster.children[INGRESSES] and rollout.traffic() == {OLD: 1.0}


def test_switching_to_nginx_without_an_ingress_is_refused_and_the_route_stays():
    rollout = TickedRollout(new_parent(router="gatewayAPI"))
    rollout.tick(5)
    rollout.tick(5)
    rollout.set(traffic={"router": "nginx"})
    status = rollout.tick(5)
    assert next(c for c in status["conditions"] if c["type"] == "InvalidSpec")["status"] == "True"
    assert rollout.cluster.children[ROUTES] and rollout.traffic() == {OLD: 1.0}


def test_an_invalid_spec_keeps_the_autoscaling_state():
    rollout = autoscaled()
    hpa_scales(rollout, 8)
    rollout.tick()
    del rollout.cluster.parent["spec"]["autoscaling"]
    rollout.set(canary={"steps": [{"setWeight": 50}, {"setWeight": 10}]})  # invalid: weights go down
    rollout.tick()
    rollout.set(canary={"steps": [{"setWeight": 10}]})
    rollout.tick()
    assert stable_replicas(rollout) == 8


def test_the_header_route_waits_for_the_canary_to_be_ready():
    parent = new_parent(steps=[{"setWeight": 20}])
    parent["spec"]["traffic"] = {"router": "nginx", "canaryHeader": HEADER}
    rollout = started(parent)
    rollout.canary_ready = False
    rollout.tick()
    assert "housing-canary" not in rollout.cluster.children[INGRESSES]
    rollout.canary_ready = True
    rollout.become_ready()
    rollout.tick()
    assert "housing-canary" in rollout.cluster.children[INGRESSES]


MIRROR_STEPS = [{"mirror": {"duration": "60s"}}, {"setWeight": 20}]


@pytest.mark.parametrize("router", ROUTERS)
def test_a_mirror_step_copies_stables_requests_to_the_canary_with_no_weight(router):
    rollout = started(new_parent(steps=MIRROR_STEPS, router=router))
    rollout.tick()
    rollout.tick()
    assert rollout.status["currentStep"] == 0 and not rollout.weight_on_route()
    assert rollout.traffic() == {OLD: 1.0}  # users only ever get stable's answers
    assert rollout.status["message"].startswith("step 1/2: the canary shadows stable")
    if router == "nginx":
        annotations = rollout.cluster.children[INGRESSES]["housing-stable"]["metadata"]["annotations"]
        target = "http://housing-canary.ml.svc.cluster.local$request_uri"
        assert annotations["nginx.ingress.kubernetes.io/mirror-target"] == target
    else:
        (rule,) = rollout.cluster.children[ROUTES]["housing"]["spec"]["rules"]
        mirror = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "housing-canary", "port": 80}}}
        assert rule["filters"] == [mirror]
        assert (
            errors_of(
                HTTP_ROUTE, {k: v for k, v in rollout.cluster.children[ROUTES]["housing"].items() if k != "status"}
            )
            == []
        )
    # Mirrored requests are the canary's: its checks pass on them and the rollout moves on.
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW
    stable_ingress = rollout.cluster.children[INGRESSES].get("housing-stable") or {}
    assert "nginx.ingress.kubernetes.io/mirror-target" not in (stable_ingress.get("metadata") or {}).get(
        "annotations", {}
    )


@pytest.mark.parametrize("router", ROUTERS)
def test_a_mirrored_canary_that_fails_is_rolled_back_and_the_mirror_stops(router):
    rollout = started(new_parent(steps=MIRROR_STEPS, router=router), metrics=BAD)
    run_until(rollout, "RolledBack")
    assert "canary error rate 0.071" in rollout.status["message"]
    routes = rollout.cluster.children[ROUTES].get("housing")
    if routes:
        assert all("filters" not in rule for rule in routes["spec"]["rules"])
    else:
        annotations = rollout.cluster.children[INGRESSES]["housing-stable"]["metadata"].get("annotations") or {}
        assert "nginx.ingress.kubernetes.io/mirror-target" not in annotations


# Gateways that cannot mirror (their GatewayClass does not list HTTPRouteRequestMirror)


def mirror_filters(rollout: TickedRollout) -> list[dict]:
    return [f for rule in rollout.cluster.children[ROUTES]["housing"]["spec"]["rules"] for f in rule.get("filters", [])]


def test_a_mirror_step_on_a_gateway_that_cannot_mirror_is_held_and_says_why():
    rollout = started(new_parent(steps=MIRROR_STEPS, router="gatewayAPI"), gateway=TRAEFIK)
    for _ in range(12):
        status = rollout.tick()
        # The filter is never emitted: on such a Gateway it could fail every request of the route.
        assert mirror_filters(rollout) == []
        assert rollout.traffic() == {OLD: 1.0}
    assert (status["phase"], status["reason"], status["currentStep"]) == ("Paused", "MirrorUnsupported", 0)
    assert (
        "GatewayClass traefik of traefik.io/gateway-controller does not list HTTPRouteRequestMirror"
        in (status["message"])
    )
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert (progressing["reason"], progressing["message"]) == ("MirrorUnsupported", status["message"])


def test_a_held_mirror_step_starts_over_once_the_gateway_can_mirror():
    rollout = started(new_parent(steps=MIRROR_STEPS, router="gatewayAPI"), gateway=TRAEFIK)
    for _ in range(4):
        rollout.tick()
    assert rollout.status["reason"] == "MirrorUnsupported"
    # The Gateway's implementation is upgraded: its class now lists the feature (a related object).
    rollout.gateway = MIRRORING
    rollout.cluster.related_groups[GATEWAY_CLASSES] = keyed(gateway_class(*MIRRORING))
    rollout.become_ready()
    resumed_at = rollout.now
    status = rollout.tick()
    assert (status["phase"], status["currentStep"]) == ("Progressing", 0)
    assert status["stepStartedAt"] == resumed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert mirror_filters(rollout)
    run_until(rollout, "Stable")
    assert rollout.status["stableVersion"] == NEW


@pytest.mark.parametrize(("action", "phase"), [("promote", "Stable"), ("abort", "RolledBack")])
def test_a_held_mirror_step_takes_promote_and_abort(action, phase):
    rollout = started(new_parent(steps=MIRROR_STEPS, router="gatewayAPI"), gateway=TRAEFIK)
    for _ in range(3):
        rollout.tick()
    rollout.annotate(action, "now")
    run_until(rollout, phase)
    assert mirror_filters(rollout) == []


def test_a_mirror_step_waits_until_a_gateway_has_accepted_the_route():
    rollout = started(new_parent(steps=MIRROR_STEPS, router="gatewayAPI"))
    rollout.tick()
    rollout.become_ready()
    for route in rollout.cluster.children[ROUTES].values():
        route["status"] = {}
    status = rollout.tick(settle=False)
    assert status["reason"] == "MirrorUnsupported" and "no Gateway has accepted the HTTPRoute" in status["message"]
    assert mirror_filters(rollout) == []


def test_the_customize_hook_asks_for_gateway_classes_only_for_a_gateway_mirror_step():
    def rules(parent):
        return mldeployment.customize({"parent": parent})["relatedResources"]

    classes = {"apiVersion": "gateway.networking.k8s.io/v1", "resource": "gatewayclasses", "labelSelector": {}}
    assert rules(new_parent(steps=MIRROR_STEPS, router="gatewayAPI")) == [classes]
    assert rules(new_parent(steps=MIRROR_STEPS, router="nginx")) == []
    assert rules(new_parent(router="gatewayAPI")) == []


def test_a_mirror_step_whose_canary_gets_no_copies_pauses_and_names_the_mirror_annotation():
    # An NGINX Ingress controller that ignores mirror-target (Traefik's NGINX provider) copies nothing.
    rollout = started(new_parent(steps=MIRROR_STEPS, router="nginx"))
    rollout.mirroring = lambda: False
    rollout.rate = 0.0
    run_until(rollout, "Paused")
    status = rollout.status
    assert status["reason"] == "AnalysisInconclusive" and "mirror-target" in status["message"]
    assert rollout.traffic() == {OLD: 1.0}
