"""A stand-in for Metacontroller, for tests only: the CompositeController loop against a real API server.

Metacontroller itself cannot be installed here (it ships as a container image), so this
runs its loop in the test process, reading our CompositeController objects from the API
server and doing what Metacontroller v4 does with them:
- lists the parents, and each parent's children by the generated selector
  (`controller-uid=<parent uid>`) among the objects it controls;
- asks the customize hook for related objects (cached per parent uid and generation);
- POSTs Metacontroller's exact request body to the running `aurora-hooks`; anything but a
  200 changes nothing;
- applies the answer: omitted children deleted (background propagation, uid precondition),
  new ones created, existing ones updated only under `InPlace` (`OnDelete` children are
  never updated); the apply is a forced server-side apply by the field manager
  `metacontroller`, Metacontroller's `--apply-strategy=server-side-apply` mode;
- replaces the parent's status whole through the status subresource, adding
  observedGeneration, and only when it changed;
- syncs a parent again when it, a child or a related object changed (what its informers
  would notice), or when `resyncAfterSeconds` has passed.
It is not Metacontroller: no informers, no adoption of orphans, no finalize hook, no
Rolling strategies (Aurora uses none of these).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.kube_cluster import Kube, KubeError, Resource

CONTROLLERS = Resource("metacontroller.k8s.io/v1alpha1", "compositecontrollers", namespaced=False)
MANAGER = "metacontroller"


def label_selector(selector: dict) -> str:
    """A LabelSelector's matchLabels as a selector string (what our customize hooks return)."""
    return ",".join(f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))


@dataclass(frozen=True)
class ChildRule:
    """One of the controller's childResources, with its kind found by discovery."""

    resource: Resource
    kind: str
    method: str

    @property
    def key(self) -> str:
        """The request's group key: `<Kind>.<apiVersion>`."""
        return f"{self.kind}.{self.resource.api_version}"


@dataclass
class ParentState:
    fingerprint: tuple = ()
    due: float = 0.0
    related_rules: tuple[int, list] | None = None


@dataclass
class StandIn:
    """One CompositeController's loop; `hook_base` replaces the webhook URLs' scheme and host.

    `namespace` limits it to the parents of one namespace, so that a test sees only its own.
    """

    kube: Kube
    name: str
    hook_base: str
    namespace: str | None = None
    errors: list[str] = field(default_factory=list)
    syncs: int = 0
    status_writes: int = 0
    parents: dict[str, ParentState] = field(default_factory=dict)

    def __post_init__(self):
        self.spec = self.kube.get(CONTROLLERS.path(name=self.name))["spec"]
        parent = self.spec["parentResource"]
        self.parent_resource = Resource(parent["apiVersion"], parent["resource"])
        self.rules = {rule.key: rule for rule in map(self.child_rule, self.spec.get("childResources") or [])}
        self.controller = {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController", **self.spec}

    def child_rule(self, rule: dict) -> ChildRule:
        resource = Resource(rule["apiVersion"], rule["resource"])
        method = (rule.get("updateStrategy") or {}).get("method") or "OnDelete"
        return ChildRule(resource, self.kube.kind_of(resource), method)

    def hook_url(self, hook: str) -> str | None:
        webhook = ((self.spec.get("hooks") or {}).get(hook) or {}).get("webhook")
        if not webhook:
            return None
        path = webhook["url"].split("://", 1)[1].split("/", 1)[1]
        return f"{self.hook_base}/{path}"

    # One pass

    def sync_due(self) -> None:
        """Sync every parent whose world changed or whose resync time came."""
        for parent in self.kube.list(self.parent_resource, self.namespace):
            state = self.parents.setdefault(parent["metadata"]["uid"], ParentState())
            observed = self.observe(parent, state)
            fingerprint = fingerprint_of(parent, observed)
            if fingerprint != state.fingerprint or (state.due and time.monotonic() >= state.due):
                state.fingerprint = fingerprint
                if not self.sync(parent, observed, state):
                    # Metacontroller requeues a failed sync with backoff; so does this, after a second.
                    state.due = time.monotonic() + 1.0

    def observe(self, parent: dict, state: ParentState) -> dict:
        namespace, uid = parent["metadata"]["namespace"], parent["metadata"]["uid"]
        children = {}
        for key, rule in self.rules.items():
            items = self.kube.list(rule.resource, namespace, labelSelector=f"controller-uid={uid}")
            children[key] = {i["metadata"]["name"]: i for i in items if controller_uid(i) == uid}
        return {"children": children, "related": self.related(parent, state)}

    def related(self, parent: dict, state: ParentState) -> dict:
        url = self.hook_url("customize")
        if not url:
            return {}
        generation = parent["metadata"].get("generation")
        if state.related_rules is None or state.related_rules[0] != generation:
            answer = self.post(url, {"controller": self.controller, "parent": parent})
            if answer is None:
                return {}
            state.related_rules = (generation, answer.get("relatedResources") or [])
        related = {}
        for rule in state.related_rules[1]:
            resource = Resource(rule["apiVersion"], rule["resource"])
            selector = label_selector(rule.get("labelSelector") or {})
            items = self.kube.list(resource, parent["metadata"]["namespace"], labelSelector=selector)
            key = f"{self.kube.kind_of(resource)}.{resource.api_version}"
            related[key] = {i["metadata"]["name"]: i for i in items}
        return related

    def sync(self, parent: dict, observed: dict, state: ParentState) -> bool:
        """One sync; False when the hook failed (nothing was changed)."""
        request = {"controller": self.controller, "parent": parent, **observed, "finalizing": False}
        response = self.post(self.hook_url("sync"), request)
        self.syncs += 1
        if response is None:
            return False
        self.manage_children(parent, observed["children"], response.get("children") or [])
        self.write_status(parent, response.get("status"))
        resync = response.get("resyncAfterSeconds") or 0
        state.due = time.monotonic() + resync if resync > 0 else 0.0
        return True

    def post(self, url: str, body: dict) -> dict | None:
        try:
            answer = requests.post(url, json=body, timeout=10)
        except requests.RequestException as err:
            self.errors.append(f"hook {url}: {err}")
            return None
        if answer.status_code != 200:
            self.errors.append(f"hook {url} answered {answer.status_code}: {answer.text[:500]}")
            return None
        return answer.json()

    # Children

    def manage_children(self, parent: dict, observed: dict, desired: list[dict]) -> None:
        """Deletes first, then creates and in-place updates, as Metacontroller orders them."""
        wanted = {(f"{c['kind']}.{c['apiVersion']}", c["metadata"]["name"]): c for c in desired}
        for key, items in observed.items():
            for name, child in items.items():
                if (key, name) not in wanted and not child["metadata"].get("deletionTimestamp"):
                    self.delete_child(self.rules[key].resource, child)
        for (key, name), child in wanted.items():
            rule = self.rules.get(key)
            if rule is None:
                self.errors.append(f"{key}/{name} is not among the controller's childResources")
            elif name not in observed[key] or rule.method == "InPlace":
                self.apply_child(rule.resource, owned_child(child, parent))

    def apply_child(self, resource: Resource, child: dict) -> None:
        try:
            self.kube.apply(resource, child, manager=MANAGER)
        except KubeError as err:
            self.errors.append(f"apply {child['kind']}/{child['metadata']['name']}: {err}")

    def delete_child(self, resource: Resource, child: dict) -> None:
        metadata = child["metadata"]
        body = {"propagationPolicy": "Background", "preconditions": {"uid": metadata["uid"]}}
        try:
            self.kube.delete(resource.path(metadata["namespace"], metadata["name"]), body)
        except KubeError as err:
            if err.status != 404:
                self.errors.append(f"delete {child['kind']}/{metadata['name']}: {err}")

    # Status

    def write_status(self, parent: dict, status: dict | None) -> None:
        new = {**(status or {}), "observedGeneration": parent["metadata"].get("generation")}
        if new == parent.get("status"):
            return
        path = self.parent_resource.path(parent["metadata"]["namespace"], parent["metadata"]["name"])
        for _ in range(5):
            live = self.kube.get(path)
            live["status"] = new
            try:
                self.kube.call("PUT", f"{path}/status", live)
                self.status_writes += 1
                return
            except KubeError as err:
                if err.status == 404:
                    return
                if err.status != 409:
                    self.errors.append(f"status of {parent['metadata']['name']}: {err}")
                    return
        self.errors.append(f"status of {parent['metadata']['name']}: five conflicts in a row")


def controller_uid(obj: dict) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def owned_child(child: dict, parent: dict) -> dict:
    """The desired child as Metacontroller applies it: namespaced, labelled and owned by the parent."""
    child, uid = copy.deepcopy(child), parent["metadata"]["uid"]
    metadata = child["metadata"]
    metadata["namespace"] = metadata.get("namespace") or parent["metadata"]["namespace"]
    metadata["labels"] = {**(metadata.get("labels") or {}), "controller-uid": uid}
    metadata["ownerReferences"] = [
        {
            "apiVersion": parent["apiVersion"],
            "kind": parent["kind"],
            "name": parent["metadata"]["name"],
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return child


def fingerprint_of(parent: dict, observed: dict) -> tuple:
    versions = [parent["metadata"]["resourceVersion"]]
    for group in ("children", "related"):
        for key, items in sorted(observed[group].items()):
            versions += [f"{key}/{name}@{obj['metadata']['resourceVersion']}" for name, obj in sorted(items.items())]
    return tuple(versions)


class Loop(threading.Thread):
    """Runs stand-ins for several CompositeControllers until stopped."""

    def __init__(self, standins: list[StandIn], interval: float = 0.2):
        super().__init__(daemon=True)
        self.standins, self.interval, self.stopped = standins, interval, threading.Event()
        self.crashes: list[str] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            for standin in self.standins:
                try:
                    standin.sync_due()
                except Exception as err:  # a loop that died silently would hang the test instead
                    self.crashes.append(f"{standin.name}: {type(err).__name__}: {err}")
            self.stopped.wait(self.interval)

    def stop(self) -> list[str]:
        self.stopped.set()
        self.join(timeout=10)
        return [error for standin in self.standins for error in standin.errors] + self.crashes
