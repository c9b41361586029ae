"""The real control plane of `make cluster` (scripts/cluster), as the tests use it.

The tests use a cluster that already runs (`make cluster`), or start one for the session
and stop it at the end. Talking to it goes through a small REST client on the admin
kubeconfig, and through the `kubectl` built with the cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tests.support.paths import ROOT
from tests.support.waiting import wait_until

SCRIPT = ROOT / "scripts" / "cluster"
# An address of kwok's pod range (its --cidr, 10.244.0.0/16) that no pod gets.
POD_ADDRESS_PROBE = "10.244.255.254"


class KubeError(Exception):
    """The API server refused a call; carries its HTTP status and message."""

    def __init__(self, status: int, message: str, body: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.body = status, message, body or {}


def api_base(api_version: str) -> str:
    """The path of an API group version: /api/v1 for the core group, /apis/<group>/<version> else."""
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: apiVersion, plural name, namespaced or not."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = api_base(self.api_version)
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{scope}/{self.plural}" + (f"/{name}" if name else "")


class Kube:
    """A thin REST client over the admin (or any bearer-token) identity."""

    def __init__(self, server: str, token: str, ca: str):
        self.server, self.session = server, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        # Per request: a session's `verify` loses to REQUESTS_CA_BUNDLE from the environment.
        self.ca = ca
        self.discovery: dict[str, list[dict]] = {}

    def call(self, method: str, path: str, body=None, params=None, content_type="application/json") -> dict:
        data = None if body is None else json.dumps(body)
        answer = self.session.request(
            method,
            self.server + path,
            data=data,
            params=params,
            headers={"Content-Type": content_type},
            timeout=30,
            verify=self.ca,
        )
        payload = answer.json() if answer.content else {}
        if answer.status_code >= 400:
            raise KubeError(answer.status_code, payload.get("message", answer.text), payload)
        return payload

    def get(self, path: str, **params) -> dict:
        return self.call("GET", path, params=params or None)

    def list(self, resource: Resource, namespace: str | None = None, **params) -> list[dict]:
        """Items of a list, each with its apiVersion and kind filled in (list items lack them)."""
        answer = self.get(resource.path(namespace), **params)
        kind = answer["kind"].removesuffix("List")
        return [{"apiVersion": resource.api_version, "kind": kind, **item} for item in answer["items"]]

    def apply(self, resource: Resource, obj: dict, *, manager: str, dry_run: bool = False) -> dict:
        """Server-side apply with force, as a controller owning these fields does."""
        params = {"fieldManager": manager, "force": "true", **({"dryRun": "All"} if dry_run else {})}
        path = resource.path(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return self.call("PATCH", path, obj, params, "application/apply-patch+yaml")

    def delete(self, path: str, body: dict | None = None) -> dict:
        return self.call("DELETE", path, body)

    def served(self, api_version: str) -> list[dict]:
        """The resources an API group version serves (its discovery document), read once."""
        if api_version not in self.discovery:
            self.discovery[api_version] = self.get(api_base(api_version))["resources"]
        return self.discovery[api_version]

    def resource_for(self, api_version: str, kind: str) -> Resource:
        """Where a kind is served."""
        for entry in self.served(api_version):
            if entry["kind"] == kind and "/" not in entry["name"]:
                return Resource(api_version, entry["name"], entry["namespaced"])
        raise KubeError(404, f"{api_version} serves no {kind}")

    def read(self, obj: dict) -> dict:
        """An object as the server keeps it, found by its apiVersion, kind, namespace and name."""
        resource = self.resource_for(obj["apiVersion"], obj["kind"])
        return self.get(resource.path(obj["metadata"].get("namespace"), obj["metadata"]["name"]))

    def kind_of(self, resource: Resource) -> str:
        """The kind served under a resource's plural name."""
        for entry in self.served(resource.api_version):
            if entry["name"] == resource.plural:
                return entry["kind"]
        raise KubeError(404, f"{resource.api_version} serves no {resource.plural}")


@dataclass
class Cluster:
    """A running control plane: its kubeconfig, kubectl and an admin client."""

    home: Path
    started_here: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.home / "run" / "kubeconfig"

    @property
    def bin(self) -> Path:
        return self.home / "run" / "bin"

    def config(self) -> dict:
        return yaml.safe_load(self.kubeconfig.read_text())

    def admin(self) -> Kube:
        config = self.config()
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        return Kube(cluster["server"], user["token"], cluster["certificate-authority"])

    def as_token(self, token: str) -> Kube:
        cluster = self.config()["clusters"][0]["cluster"]
        return Kube(cluster["server"], token, cluster["certificate-authority"])

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.bin / "kubectl"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stderr}")
        return result

    def new_namespace(self, prefix: str) -> str:
        """A fresh namespace, ready for pods (its default service account exists)."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.admin().call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        wait_until(lambda: self.admin().list(SERVICE_ACCOUNTS, name), 30, f"the default service account in {name}")
        return name

    def delete_namespace(self, name: str) -> None:
        self.admin().delete(f"/api/v1/namespaces/{name}")


SERVICE_ACCOUNTS = Resource("v1", "serviceaccounts")


def cluster_home() -> Path:
    return Path(os.environ.get("AURORA_CLUSTER_DIR") or ROOT / ".cluster")


def is_running(home: Path) -> bool:
    return subprocess.run([str(SCRIPT), "status"], capture_output=True, env=script_env(home)).returncode == 0


def script_env(home: Path) -> dict:
    return {**os.environ, "AURORA_CLUSTER_DIR": str(home)}


def missing_programs() -> list[str]:
    """What `scripts/cluster up` needs from the machine."""
    return [name for name in ("go", "openssl", "curl", "setsid") if shutil.which(name) is None]


def pod_addresses_are_local() -> bool:
    """True inside the test run's network namespace (scripts/netns), where every pod address of
    the tier is local, so programs can listen on them and the router reach them."""
    with socket.socket() as probe:
        try:
            probe.bind((POD_ADDRESS_PROBE, 0))
        except OSError:
            return False
    return True


def start(home: Path) -> Cluster:
    """Use the running cluster, or start one (building it first if need be)."""
    if is_running(home):
        return Cluster(home)
    try:
        result = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, env=script_env(home), timeout=3600)
    except subprocess.TimeoutExpired:
        stop(Cluster(home, started_here=True))
        raise
    if result.returncode != 0:
        raise RuntimeError(f"scripts/cluster up failed:\n{result.stderr[-4000:]}")
    return Cluster(home, started_here=True)


def stop(cluster: Cluster) -> None:
    if cluster.started_here:
        subprocess.run([str(SCRIPT), "down"], capture_output=True, env=script_env(cluster.home), timeout=120)


def token_for(cluster, namespace: str, account: str) -> str:
    """A token of the service account, as the TokenRequest API issues it (an hour long)."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    return cluster.admin().call("POST", path, request)["status"]["token"]
