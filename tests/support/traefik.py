"""Traefik v3.7 as the router of the cluster tier: what users' requests go through.

Traefik is built from the Go module proxy by `scripts/cluster build`. It reads the
MLDeployments' NGINX canary Ingresses through its NGINX provider (IngressClass `nginx`,
controller `k8s.io/ingress-nginx`, as ingress-nginx would claim it) and their HTTPRoutes through
its Gateway API provider (GatewayClass `traefik`; Gateway `gateways/public`, whose listener is
Traefik's entry point). It sends each request to a pod's own address, taken from the
Services' EndpointSlices; the pods' programs listen there inside the test run's network
namespace (scripts/netns).
"""

from __future__ import annotations

from pathlib import Path

import requests

from tests.support.processes import Program
from tests.support.servers import free_port
from tests.support.waiting import wait_until

GATEWAY = {"name": "public", "namespace": "gateways"}
GATEWAY_CLASS = "traefik"


def router_objects(port: int) -> str:
    """The IngressClass, GatewayClass and Gateway a cluster with Traefik as its router has."""
    return f"""
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {{name: nginx}}
spec: {{controller: k8s.io/ingress-nginx}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: {GATEWAY_CLASS}}}
spec: {{controllerName: traefik.io/gateway-controller}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {GATEWAY["namespace"]}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: {GATEWAY["name"]}, namespace: {GATEWAY["namespace"]}}}
spec:
  gatewayClassName: {GATEWAY_CLASS}
  listeners:
    - {{name: http, protocol: HTTP, port: {port}, allowedRoutes: {{namespaces: {{from: All}}}}}}
"""


class Traefik:
    """A running Traefik: `url` is its entry point, `api` its read-only API."""

    def __init__(self, cluster, work: Path):
        self.port, api_port = free_port(), free_port()
        self.url, self.api = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{api_port}"
        cluster.kubectl("apply", "--server-side", "-f", "-", stdin=router_objects(self.port))
        argv = [
            str(cluster.bin / "traefik"),
            f"--entryPoints.web.address=127.0.0.1:{self.port}",
            f"--entryPoints.traefik.address=127.0.0.1:{api_port}",
            "--api.insecure=true",
            "--ping=true",
            "--providers.kubernetesIngressNGINX=true",
            "--providers.kubernetesGateway=true",
            "--providers.providersThrottleDuration=0s",
            "--log.level=INFO",
            # Every request, with the pod that answered it: what a failure is read from.
            "--accesslog=true",
            f"--accesslog.filePath={work / 'access.log'}",
            "--accesslog.format=json",
        ]
        self.program = Program(argv, work / "traefik.log", {"KUBECONFIG": str(cluster.kubeconfig)})
        self.program.wait_for(f"{self.api}/ping", "Traefik")
        # Traefik has read the Gateway once it says so in the GatewayClass's status.
        wait_until(lambda: self.accepts(cluster), 60, "Traefik to accept its GatewayClass")

    def accepts(self, cluster) -> bool:
        path = f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{GATEWAY_CLASS}"
        conditions = (cluster.admin().get(path).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Accepted" and c["status"] == "True" for c in conditions)

    def send(self, session: requests.Session, host: str, body: dict, headers: dict | None = None) -> requests.Response:
        """A user's request: to the entry point, for `host`."""
        return session.post(f"{self.url}/predict", json=body, headers={"Host": host, **(headers or {})}, timeout=5)

    def stop(self) -> None:
        self.program.stop()
