"""The control API's only door to Kubernetes: the official client, short timeouts, clear errors.

Every call returns plain JSON-decoded dicts; any failure becomes ClusterUnavailable
(503: not reachable in time) or ClusterRefused (502: the API said no), never a traceback.
"""

from __future__ import annotations

import json
import logging

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from aurora_api.resources import DEPLOYMENTS, GROUP, TRAINING_JOBS, VERSION
from control_api.errors import ClusterRefused, ClusterUnavailable, NotFound

log = logging.getLogger("aurora.control_api")
PLURALS = {"trainingjobs": TRAINING_JOBS, "deployments": DEPLOYMENTS}
CRDS = {
    "aurora": ["mltrainingjobs.aurora.dev", "mldeployments.aurora.dev"],
    "metacontroller": ["compositecontrollers.metacontroller.k8s.io"],
}


def default_configuration() -> client.Configuration:
    """In-cluster credentials when running in a pod, else the user's kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.Configuration.get_default_copy()


class Kube:
    def __init__(self, configuration: client.Configuration | None = None, timeout: tuple[float, float] = (2.0, 5.0)):
        self.configuration = configuration
        self.timeout = timeout
        self._api: client.ApiClient | None = None

    @property
    def api(self) -> client.ApiClient:
        # Credentials are loaded on first use, so the app starts (and answers /health) without a cluster.
        if self._api is None:
            try:
                configuration = self.configuration or default_configuration()
            except Exception as err:  # no in-cluster token and no kubeconfig
                raise ClusterUnavailable(f"no Kubernetes credentials: {err}") from None
            configuration.retries = 0
            self._api = client.ApiClient(configuration)
        return self._api

    def request(self, method: str, path: str, body=None, content_type: str | None = None, query=None) -> dict:
        """One API call; the JSON answer as a dict."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            request = self.api.param_serialize(
                method, path, query_params=query or [], header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = self.api.call_api(*request, _request_timeout=self.timeout)
            data = response.read()
        except ApiException as err:
            raise translate(err.status, err.reason, path) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            log.warning("kubernetes API unreachable on %s: %s", path, err)
            raise ClusterUnavailable(f"the Kubernetes API is not reachable: {type(err).__name__}") from None
        if response.status >= 400:
            raise translate(response.status, response.reason, path)
        try:
            return json.loads(data or b"{}")
        except ValueError:
            raise ClusterRefused(f"the Kubernetes API answered {path} with something that is not JSON") from None

    # Reads

    def version(self) -> dict:
        return self.request("GET", "/version")

    def nodes(self) -> list[dict]:
        return self.request("GET", "/api/v1/nodes").get("items", [])

    def storage_classes(self) -> list[dict]:
        return self.request("GET", "/apis/storage.k8s.io/v1/storageclasses").get("items", [])

    def crd_installed(self, name: str) -> bool:
        try:
            self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        except NotFound:
            return False
        return True

    def custom_objects(self, kind: str, namespace: str | None) -> list[dict]:
        plural = PLURALS[kind]
        scope = f"/namespaces/{namespace}" if namespace else ""
        return self.request("GET", f"/apis/{GROUP}/{VERSION}{scope}/{plural}").get("items", [])

    def deployment(self, namespace: str, name: str) -> dict:
        return self.request("GET", f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{DEPLOYMENTS}/{name}")

    # Writes

    def annotate_deployment(self, namespace: str, name: str, key: str, value: str) -> dict:
        """Set one annotation on an MLDeployment (a merge patch touches nothing else)."""
        body = {"metadata": {"annotations": {key: value}}}
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{DEPLOYMENTS}/{name}"
        return self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    def apply(self, path: str, manifest: dict) -> dict:
        """Server-side apply, owned by the field manager 'aurora'; safe to repeat."""
        query = [("fieldManager", "aurora"), ("force", "true")]
        return self.request("PATCH", path, body=manifest, content_type="application/apply-patch+yaml", query=query)


def translate(status: int, reason: str | None, path: str) -> Exception:
    if status == 404:
        return NotFound(f"{path} was not found in the cluster")
    if status in (401, 403):
        return ClusterRefused(f"the Kubernetes API refused the control API's credentials ({status}) for {path}")
    return ClusterRefused(f"the Kubernetes API answered {status} {reason or ''} for {path}".replace("  ", " "))
