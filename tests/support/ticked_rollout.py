"""An MLDeployment rolled out tick by tick against the Metacontroller double, as Flagger's
scenario tests do: pods that become ready a tick after they change, traffic that follows the
emitted routes, and metrics saying how each track behaves.
"""

from __future__ import annotations

from datetime import timedelta

from hooks import mldeployment
from tests.support.hook_fixtures import FIXED_NOW, TEST_CONFIG_MLD
from tests.support.metacontroller_double import MetacontrollerDouble

DEPLOYMENTS, INGRESSES, SERVICES = "Deployment.apps/v1", "Ingress.networking.k8s.io/v1", "Service.v1"
ROUTES, AUTOSCALERS = "HTTPRoute.gateway.networking.k8s.io/v1", "HorizontalPodAutoscaler.autoscaling/v2"
KEYS = {DEPLOYMENTS: "InPlace", SERVICES: "InPlace", INGRESSES: "InPlace", ROUTES: "InPlace", AUTOSCALERS: "InPlace"}
ROUTERS = ("nginx", "gatewayAPI")
GATEWAY = {"parentRefs": [{"name": "public", "namespace": "gateways"}], "hostnames": ["h.example.com"]}
OLD, NEW, NEWER = "v20261101-120000", "v20261126-090000", "v20261126-093000"
# How each track behaves; how many requests it gets follows from the routes (Traffic).
GOOD = {"canary": {"errorRate": 0.002, "latencyP99": 0.04}, "stable": {"errorRate": 0.002, "latencyP99": 0.04}}
BAD = {**GOOD, "canary": {"errorRate": 0.071, "latencyP99": 0.04}}
SLOW = {**GOOD, "canary": {"errorRate": 0.0, "latencyP99": 0.9}}
WORSE = {**GOOD, "canary": {"errorRate": 0.009, "latencyP99": 0.04}}
# Requests per second reaching the MLDeployment through its routes.
BUSY, QUIET = 100.0, 0.1
GATEWAY_CLASSES = "GatewayClass.gateway.networking.k8s.io/v1"
# A Gateway API implementation that mirrors, and Traefik v3.7's own list (no mirroring).
MIRRORING = ("example.net/gateway-controller", ["Gateway", "HTTPRoute", "HTTPRouteRequestMirror"])
TRAEFIK = ("traefik.io/gateway-controller", ["Gateway", "GatewayPort8080", "HTTPRoute", "HTTPRouteQueryParamMatching"])


def gateway_class(controller: str, features: list[str]) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GatewayClass",
        "metadata": {"name": controller.split(".")[0]},
        "spec": {"controllerName": controller},
        "status": {"supportedFeatures": [{"name": f} for f in features]},
    }


def keyed(obj: dict) -> dict:
    """A related object as Metacontroller's request holds it: under its name."""
    return {obj["metadata"]["name"]: obj}


def accepted_by(controller: str) -> dict:
    """An HTTPRoute's status once the Gateway's controller accepted it."""
    accepted = {"type": "Accepted", "status": "True", "reason": "Accepted"}
    return {"parents": [{"parentRef": {"name": "public"}, "controllerName": controller, "conditions": [accepted]}]}


def new_parent(steps=None, router: str = "nginx", **spec) -> dict:
    canary = {
        "steps": [{"setWeight": 10}, {"pause": {"duration": "60s"}}, {"setWeight": 50}] if steps is None else steps,
        "analysis": {"interval": "30s", "minRequests": 50, "failureLimit": 2},
    }
    body = {"model": "housing", "version": OLD, "replicas": 2, "ingress": {"host": "h.example.com"}, "canary": canary}
    if router == "gatewayAPI":
        body["traffic"] = {"router": "gatewayAPI", "gatewayAPI": GATEWAY}
        del body["ingress"]
    body.update(spec)
    metadata = {"name": "housing", "namespace": "ml", "uid": "u-1", "generation": 1, "annotations": {}}
    return {"apiVersion": "aurora.dev/v1alpha1", "kind": "MLDeployment", "metadata": metadata, "spec": body}


class TickedRollout:
    """A cluster whose Deployments become ready one tick after they change, with traffic that
    reaches each track only through the routes the hook emitted (the canary Ingress's weight),
    and a metrics source saying how each track behaves (None: Prometheus is down)."""

    def __init__(self, parent: dict, metrics=GOOD, rate: float = BUSY, gateway=MIRRORING):
        hook = lambda r, now, **kw: mldeployment.sync(r, now=now, config=TEST_CONFIG_MLD, **kw)  # noqa: E731
        self.cluster = MetacontrollerDouble(parent, hook, strategies=KEYS)
        self.gateway = gateway
        self.cluster.related_groups[GATEWAY_CLASSES] = keyed(gateway_class(*gateway))
        self.now = FIXED_NOW
        self.metrics, self.rate = metrics, rate
        self.stable_ready, self.canary_ready = True, True
        self.queried = 0
        self.transcript: list[tuple] = []
        # The pods each Deployment runs: the labels of the template they were made from, and how
        # many are ready. A template change reaches the pods only when they become ready again.
        self.pods: dict[str, tuple[dict, int]] = {}

    def observations(self, window: dict) -> dict | None:
        """What Prometheus would answer for the window: requests as routed, behaviour as given."""
        if self.metrics is None:
            return None
        spec = self.cluster.parent["spec"]
        has_route = "ingress" in spec or (spec.get("traffic") or {}).get("router") == "gatewayAPI"
        routed = self.rate * window["windowSeconds"] if has_route else 0.0
        share = (self.weight_on_route() or 0) / 100
        requests = {"canary": routed * share, "stable": routed * (1 - share)}
        if self.mirroring():
            requests["canary"] += requests["stable"]  # a copy of every stable request reaches the canary
        return {
            track: {**self.metrics[track], "requests": requests[track]}
            if requests[track]
            else {"requests": 0.0, "errorRate": None, "latencyP99": None}
            for track in ("canary", "stable")
        }

    def tick(self, seconds: float = 31, settle: bool = True) -> dict:
        """One sync; then, with `settle`, the Deployments it changed become ready."""
        window = mldeployment.analysis_window(self.cluster.request(), self.now)
        self.queried += window is not None
        self.cluster.tick(self.now, observations=self.observations(window) if window else None)
        if settle:
            self.become_ready()
        status = self.cluster.status
        self.transcript.append(
            (status.get("phase"), status.get("canaryWeight"), (status.get("analysis") or {}).get("verdict"))
        )
        self.now += timedelta(seconds=seconds)
        return status

    def become_ready(self) -> None:
        # The Gateway's controller accepts every HTTPRoute it is given.
        for route in self.cluster.children[ROUTES].values():
            route["status"] = accepted_by(self.gateway[0])
        for name, deployment in self.cluster.children[DEPLOYMENTS].items():
            if not (self.canary_ready if name.endswith("canary") else self.stable_ready):
                continue
            replicas = deployment["spec"]["replicas"]
            self.pods[name] = (deployment["spec"]["template"]["metadata"]["labels"], replicas)
            deployment["status"] = {
                "observedGeneration": deployment["metadata"]["generation"],
                "replicas": replicas,
                **{k: replicas for k in ("updatedReplicas", "readyReplicas", "availableReplicas")},
            }

    def set(self, **spec) -> None:
        self.cluster.parent["spec"].update(spec)
        self.cluster.parent["metadata"]["generation"] += 1

    def annotate(self, action: str, value: str) -> None:
        self.cluster.parent["metadata"]["annotations"][f"aurora.dev/{action}"] = value

    @property
    def status(self) -> dict:
        return self.cluster.status

    def weight_on_route(self) -> int | None:
        """The canary's weight on the route that carries traffic (the HTTPRoute when there is one,
        else the NGINX canary Ingress); None when no route sends it any weight."""
        if self.cluster.children[ROUTES]:
            return self.route_weights().get("housing-canary")
        canary = self.cluster.children[INGRESSES].get("housing-canary")
        return int(canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]) if canary else None

    def mirroring(self) -> bool:
        """The emitted routes copy stable's requests to the canary (nginx mirror-target, or an
        HTTPRoute RequestMirror filter)."""
        stable = self.cluster.children[INGRESSES].get("housing-stable") or {}
        if "nginx.ingress.kubernetes.io/mirror-target" in ((stable.get("metadata") or {}).get("annotations") or {}):
            return True
        route = self.cluster.children[ROUTES].get("housing") or {"spec": {"rules": []}}
        return any(f["type"] == "RequestMirror" for rule in route["spec"]["rules"] for f in rule.get("filters", []))

    def route_weights(self) -> dict[str, int]:
        """The weighted rule of the HTTPRoute: Service name -> weight."""
        route = self.cluster.children[ROUTES]["housing"]
        (split,) = [rule for rule in route["spec"]["rules"] if "headers" not in rule["matches"][0]]
        return {ref["name"]: ref["weight"] for ref in split["backendRefs"]}

    def traffic(self) -> dict[str, float]:
        """The share of requests each version answers, following the routes as emitted: Ingress
        weights to Services, Service selectors to ready pods. 'unanswered' is what finds no pod."""
        if self.cluster.children[ROUTES]:
            parts = list(self.route_weights().items())
        else:
            weight = self.weight_on_route() or 0
            parts = [("housing-stable", 100 - weight), ("housing-canary", weight)]
        shares: dict[str, float] = {}
        for service, part in parts:
            selector = (self.cluster.children[SERVICES].get(service) or {}).get("spec", {}).get("selector")
            if not part or selector is None:
                continue
            live = self.cluster.children[DEPLOYMENTS]
            backends = [
                (labels["aurora.dev/model-version"], ready)
                for name, (labels, ready) in self.pods.items()
                if name in live and ready and selector.items() <= labels.items()
            ]
            total = sum(ready for _, ready in backends)
            for version, ready in backends or [("unanswered", 1)]:
                shares[version] = shares.get(version, 0) + part / 100 * ready / (total or 1)
        return {version: round(share, 6) for version, share in shares.items()}

    def deployment_version(self, track: str) -> str | None:
        deployment = self.cluster.children[DEPLOYMENTS].get(f"housing-{track}")
        return deployment["spec"]["template"]["metadata"]["labels"]["aurora.dev/model-version"] if deployment else None


def started(parent=None, metrics=GOOD, rate=BUSY, router: str = "nginx", gateway=MIRRORING) -> TickedRollout:
    """A settled stable track, then spec.version changed to NEW."""
    rollout = TickedRollout(parent or new_parent(router=router), metrics, rate, gateway)
    rollout.tick(5)
    rollout.tick(5)
    rollout.set(version=NEW)
    return rollout


def run_until(rollout: TickedRollout, phase: str, limit: int = 30) -> None:
    for _ in range(limit):
        if rollout.tick()["phase"] == phase:
            return
    raise AssertionError(f"never reached {phase}: {rollout.transcript}")
