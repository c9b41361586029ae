"""A mirror step on a router that cannot mirror never breaks users' traffic (Traefik v3.7, for real).

Traefik answers 500 for every request an HTTPRoute rule with a RequestMirror filter matches, while
the route reads Accepted; its GatewayClass does not list HTTPRouteRequestMirror among its
supportedFeatures. Aurora reads that list and holds the mirror step instead of emitting the
filter. Traefik's NGINX provider ignores `nginx.ingress.kubernetes.io/mirror-target`: the canary
gets no copies, so its checks stay inconclusive and the rollout pauses, saying why.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.datasets import ROW
from tests.support.kube_cluster import Resource
from tests.support.manifests import dump, host, ml_deployment
from tests.support.platform import DEPLOYMENTS, Platform
from tests.support.traefik import GATEWAY, GATEWAY_CLASS
from tests.support.waiting import wait_until

pytestmark = pytest.mark.cluster
HTTP_ROUTES = Resource("gateway.networking.k8s.io/v1", "httproutes")
INGRESSES = Resource("networking.k8s.io/v1", "ingresses")
STABLE, CANARY = "v20261204-080000", "v20261204-090000"


def mirrored(namespace: str, version: str, router: str) -> str:
    """A mirror step first; checks every 2 s, three inconclusive ones in a row pause."""
    canary = {
        "replicas": 1,
        "steps": [{"mirror": {"duration": "30s"}}, {"setWeight": 50}],
        "analysis": {"interval": "2s", "minRequests": 5, "maxInconclusive": 3},
    }
    return dump(ml_deployment(namespace, version=version, replicas=1, router=router, canary=canary))


@pytest.fixture
def platform(cluster, aurora_installed, namespace, tmp_path):
    running = Platform(cluster, namespace, tmp_path)
    for version in (STABLE, CANARY):
        running.publish("--version", version)
    yield running
    assert running.stop() == []


def users_answers(router, namespace: str, count: int = 40) -> dict[str, int]:
    """`count` users' requests through Traefik: how many each version (or the router) answered."""
    session, seen = requests.Session(), {}
    for _ in range(count):
        answer = router.send(session, host(namespace), {"instances": [ROW]})
        key = f"{answer.headers.get('X-Model-Version', 'router')} {answer.status_code}"
        seen[key] = seen.get(key, 0) + 1
    return seen


def start_rollout(platform: Platform, router_kind: str) -> None:
    platform.apply(mirrored(platform.namespace, STABLE, router_kind))

    def stable():
        status = platform.status(DEPLOYMENTS, "diabetes")
        return status.get("ready") == "1/1" and status.get("phase") == "Stable"

    wait_until(stable, 60, "the stable version to be served")
    patch = f'{{"spec":{{"version":"{CANARY}"}}}}'
    platform.cluster.kubectl("patch", "mld", "diabetes", "-n", platform.namespace, "--type=merge", "-p", patch)


def test_traefik_fails_every_request_of_a_rule_with_a_request_mirror_filter(platform, router):
    """Why Aurora never emits the filter on Traefik: the route reads Accepted and answers 500."""
    start_rollout(platform, "gatewayAPI")
    namespace = platform.namespace
    route = platform.kube.get(HTTP_ROUTES.path(namespace, "diabetes"))
    mirror = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "diabetes-canary", "port": 80}}}
    by_hand = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "by-hand", "namespace": namespace},
        "spec": {
            "parentRefs": route["spec"]["parentRefs"],
            "hostnames": [f"by-hand.{namespace}.example.com"],
            "rules": [{**route["spec"]["rules"][-1], "filters": [mirror]}],
        },
    }
    platform.kube.apply(HTTP_ROUTES, by_hand, manager="a-user")

    def accepted():
        parents = (platform.kube.get(HTTP_ROUTES.path(namespace, "by-hand")).get("status") or {}).get("parents") or []
        return any(c["type"] == "Accepted" and c["status"] == "True" for p in parents for c in p["conditions"])

    wait_until(accepted, 30, "Traefik to accept the route")
    session = requests.Session()

    def status() -> int:
        return router.send(session, f"by-hand.{namespace}.example.com", {"instances": [ROW]}).status_code

    # 404 until Traefik has loaded the route; from then on, every request fails.
    wait_until(lambda: status() != 404, 30, "Traefik to route the host")
    assert {status() for _ in range(10)} == {500}
    features = platform.kube.get(f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{GATEWAY_CLASS}")["status"]
    assert "HTTPRouteRequestMirror" not in {f["name"] for f in features["supportedFeatures"]}


def test_a_mirror_step_on_traefiks_gateway_is_held_and_users_keep_getting_stable(platform, router):
    start_rollout(platform, "gatewayAPI")

    def held():
        status = platform.status(DEPLOYMENTS, "diabetes")
        return status if status.get("reason") == "MirrorUnsupported" else None

    status = wait_until(held, 60, "the mirror step to be held")
    assert status["phase"] == "Paused" and status["canary"]["readyReplicas"] == 1
    assert f"GatewayClass {GATEWAY_CLASS} of traefik.io/gateway-controller" in status["message"]
    route = platform.kube.get(HTTP_ROUTES.path(platform.namespace, "diabetes"))
    assert [{k: ref[k] for k in GATEWAY} for ref in route["spec"]["parentRefs"]] == [GATEWAY]
    assert all("filters" not in rule for rule in route["spec"]["rules"])
    assert users_answers(router, platform.namespace) == {f"{STABLE} 200": 40}


def test_a_mirror_step_behind_traefiks_nginx_provider_gets_no_copies_and_pauses_saying_so(platform, router):
    start_rollout(platform, "nginx")

    def paused():
        status = platform.status(DEPLOYMENTS, "diabetes")
        return status if status.get("reason") == "AnalysisInconclusive" else None

    def mirroring() -> bool:
        metadata = platform.kube.get(INGRESSES.path(platform.namespace, "diabetes-stable"))["metadata"]
        return "nginx.ingress.kubernetes.io/mirror-target" in (metadata.get("annotations") or {})

    wait_until(mirroring, 60, "the stable Ingress to ask for the mirror")
    assert users_answers(router, platform.namespace) == {f"{STABLE} 200": 40}
    status = wait_until(paused, 60, "the rollout to pause on inconclusive checks")
    assert status["analysis"]["canary"]["requests"] == 0
    assert "mirror-target" in status["message"]
