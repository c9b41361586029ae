"""Users' requests through the router, and the canary weight the routes carried meanwhile.

`Users` sends about 80 prediction requests a second to the router for one host, going through
`rows` at random; with `header`, one request in `header_every` carries the canary header. Each
answer is kept with the time it was sent, whether it carried the header, its status (or what
went wrong) and the version that answered (every aurora-serve answer names it in
X-Model-Version; the router's own errors do not). `RouteWeights` reads the canary's weight (and
header route) from the MLDeployment's routes as the router reads them, so that the share each
version got can be set against the weight in force.
"""

from __future__ import annotations

import random
import threading
import time
from typing import NamedTuple

import requests

from tests.support.datasets import ROW
from tests.support.kube_cluster import Kube, KubeError, Resource

INGRESSES = Resource("networking.k8s.io/v1", "ingresses")
HTTP_ROUTES = Resource("gateway.networking.k8s.io/v1", "httproutes")
WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
HEADER_ANNOTATION = "nginx.ingress.kubernetes.io/canary-by-header"


class Answer(NamedTuple):
    sent: float  # time.monotonic() when the request left
    header: bool  # it carried the canary header
    status: int | str  # the HTTP status, or the error that kept it from one
    version: str  # X-Model-Version of the answer; '' when the router answered itself


class Users(threading.Thread):
    def __init__(self, router, host: str, header: dict | None = None, header_every: int = 8, rows=None):
        super().__init__(daemon=True)
        self.router, self.host, self.header, self.header_every = router, host, header, header_every
        self.rows = rows or [ROW]
        self.answers: list[Answer] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        # Rows drawn at random, not in turn: the header's requests and the others see the same.
        session, turn, draw = requests.Session(), 0, random.Random(0)
        while not self.stopped.is_set():
            turn += 1
            marked = bool(self.header) and turn % self.header_every == 0
            headers = {self.header["name"]: self.header["value"]} if marked else {}
            row = draw.choice(self.rows)
            sent = time.monotonic()
            try:
                answer = self.router.send(session, self.host, {"instances": [row]}, headers)
                self.answers.append(Answer(sent, marked, answer.status_code, answer.headers.get("X-Model-Version", "")))
            except requests.RequestException as err:
                self.answers.append(Answer(sent, marked, type(err).__name__, ""))
            time.sleep(0.0125)

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.answers if a.sent >= moment]

    def first_answer(self, version: str, since: float) -> float | None:
        """When a request sent after `since` was first answered by `version`."""
        return next((a.sent for a in self.since(since) if a.version == version and a.status == 200), None)

    def stop(self) -> list[Answer]:
        self.stopped.set()
        self.join(timeout=10)
        return self.answers


class Route(NamedTuple):
    """What the routes say of the canary: its weight, and whether a header route reaches it."""

    weight: int
    header: bool


def canary_route(kube: Kube, namespace: str, name: str) -> Route:
    """The canary's route as the router reads it: the HTTPRoute when there is one, else the NGINX
    canary Ingress (weight 0 and no header route without either)."""
    try:
        route = kube.get(HTTP_ROUTES.path(namespace, name))
    except KubeError:
        route = None
    if route:
        rules = route["spec"]["rules"]
        (split,) = [r for r in rules if not any("headers" in m for m in r.get("matches", []))]
        weights = {ref["name"]: ref.get("weight", 1) for ref in split["backendRefs"]}
        return Route(weights.get(f"{name}-canary", 0), len(rules) > 1)
    try:
        annotations = kube.get(INGRESSES.path(namespace, f"{name}-canary"))["metadata"].get("annotations") or {}
    except KubeError:
        return Route(0, False)
    return Route(int(annotations.get(WEIGHT, "0")), HEADER_ANNOTATION in annotations)


class RouteWeights(threading.Thread):
    """Records every change of the canary's route, with its time."""

    def __init__(self, kube: Kube, namespace: str, name: str):
        super().__init__(daemon=True)
        self.kube, self.namespace, self.name = kube, namespace, name
        self.changes: list[tuple[float, Route]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            route = canary_route(self.kube, self.namespace, self.name)
            if not self.changes or self.changes[-1][1] != route:
                self.changes.append((time.monotonic(), route))
            self.stopped.wait(0.1)

    def route_at(self, moment: float) -> Route | None:
        earlier = [route for changed, route in self.changes if changed <= moment]
        return earlier[-1] if earlier else None

    def settled_at(self, moment: float, settle: float) -> Route | None:
        """The route at `moment` if it had not changed for `settle` seconds before; else None."""
        route = self.route_at(moment)
        return route if route is not None and self.route_at(moment - settle) == route else None

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def shares(answers: list[Answer], routes: RouteWeights, canary: str, settle: float = 1.0) -> dict[int, tuple[int, int]]:
    """Per canary weight: (answers by the canary version, all answers by a version) among requests
    without the header sent while that weight had been on the routes for `settle` seconds."""
    counted: dict[int, tuple[int, int]] = {}
    for answer in answers:
        route = routes.settled_at(answer.sent, settle)
        if answer.header or not answer.version or route is None:
            continue
        hits, total = counted.get(route.weight, (0, 0))
        counted[route.weight] = (hits + (answer.version == canary), total + 1)
    return counted


def header_answers(answers: list[Answer], routes: RouteWeights, settle: float = 1.0) -> list[Answer]:
    """Answers to requests with the header, sent while a header route to the canary had stood for
    `settle` seconds at weight 0."""
    return [
        a
        for a in answers
        if a.header and (route := routes.settled_at(a.sent, settle)) is not None and route == Route(0, True)
    ]
