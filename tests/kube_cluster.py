"""The real control plane of `make cluster` (scripts/cluster), as the tests use it.

The tests use a cluster that already runs (`make cluster`), or start one for the session
and stop it at the end. Talking to it goes through a small REST client on the admin
kubeconfig, and through the `kubectl` built with the cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "cluster"


class KubeError(Exception):
    """The API server refused a call; carries its HTTP status and message."""

    def __init__(self, status: int, message: str, body: dict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.body = status, message, body or {}


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the API: apiVersion, plural name, namespaced or not."""

    api_version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{scope}/{self.plural}" + (f"/{name}" if name else "")


class Kube:
    """A thin REST client over the admin (or any bearer-token) identity."""

    def __init__(self, server: str, token: str, ca: str):
        self.server, self.session = server, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        # Per request: a session's `verify` loses to REQUESTS_CA_BUNDLE from the environment.
        self.ca = ca
        self.kinds: dict[Resource, str] = {}

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

    def resource_for(self, api_version: str, kind: str) -> Resource:
        """Where a kind is served, from the API's discovery document."""
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        for entry in self.get(base)["resources"]:
            if entry["kind"] == kind and "/" not in entry["name"]:
                return Resource(api_version, entry["name"], entry["namespaced"])
        raise KubeError(404, f"{base} serves no {kind}")

    def read(self, obj: dict) -> dict:
        """An object as the server keeps it, found by its apiVersion, kind, namespace and name."""
        resource = self.resource_for(obj["apiVersion"], obj["kind"])
        return self.get(resource.path(obj["metadata"].get("namespace"), obj["metadata"]["name"]))

    def kind_of(self, resource: Resource) -> str:
        """The kind served under a resource's plural name, from the API's discovery document."""
        if resource not in self.kinds:
            base = "/api/v1" if resource.api_version == "v1" else f"/apis/{resource.api_version}"
            served = {entry["name"]: entry["kind"] for entry in self.get(base)["resources"]}
            if resource.plural not in served:
                raise KubeError(404, f"{base} serves no {resource.plural}")
            self.kinds[resource] = served[resource.plural]
        return self.kinds[resource]


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
        wait(lambda: self.admin().list(SERVICE_ACCOUNTS, name), 30, f"the default service account in {name}")
        return name

    def delete_namespace(self, name: str) -> None:
        self.admin().delete(f"/api/v1/namespaces/{name}")


SERVICE_ACCOUNTS = Resource("v1", "serviceaccounts")


def wait(check, timeout: float, what: str, interval: float = 0.2):
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def cluster_home() -> Path:
    return Path(os.environ.get("AURORA_CLUSTER_DIR") or ROOT / ".cluster")


def is_running(home: Path) -> bool:
    return subprocess.run([str(SCRIPT), "status"], capture_output=True, env=script_env(home)).returncode == 0


def script_env(home: Path) -> dict:
    return {**os.environ, "AURORA_CLUSTER_DIR": str(home)}


def missing_programs() -> list[str]:
    """What `scripts/cluster up` needs from the machine."""
    return [name for name in ("go", "openssl", "curl", "setsid") if shutil.which(name) is None]


def start(home: Path) -> Cluster:
    """Use the running cluster, or start one (building it first if need be)."""
    if is_running(home):
        return Cluster(home)
    result = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, env=script_env(home), timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/cluster up failed:\n{result.stderr[-4000:]}")
    return Cluster(home, started_here=True)


def stop(cluster: Cluster) -> None:
    if cluster.started_here:
        subprocess.run([str(SCRIPT), "down"], capture_output=True, env=script_env(cluster.home), timeout=120)
