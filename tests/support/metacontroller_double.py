"""A test double of the Kubernetes API server and Metacontroller, the one boundary we cannot run here.

It does what tests/fixtures cannot show over several ticks: it keeps the observed
children, applies a hook response the way Metacontroller does (create what is new,
update in place only where the strategy is InPlace, delete what was omitted), and
replaces the parent's status whole, adding observedGeneration. Tests play the other
controllers (Job, Deployment, kubelet) by setting child statuses between ticks.
"""

from __future__ import annotations

import copy
from datetime import datetime


def group_key(child: dict) -> str:
    api_version = child["apiVersion"]
    return f"{child['kind']}.{api_version}"


class MetacontrollerDouble:
    def __init__(self, parent: dict, hook, *, strategies: dict[str, str], related_key: str | None = None):
        self.parent = copy.deepcopy(parent)
        self.hook = hook
        self.strategies = strategies
        self.related_key = related_key
        self.children: dict[str, dict[str, dict]] = {key: {} for key in strategies}
        self.related: dict[str, dict] = {}
        # More groups of related objects, by group key.
        self.related_groups: dict[str, dict[str, dict]] = {}
        self.created: list[str] = []
        self.updated: list[str] = []
        self.deleted: list[str] = []
        self.last_response: dict = {}

    def request(self) -> dict:
        return {
            "controller": {"kind": "CompositeController", "metadata": {"name": "test"}},
            "parent": copy.deepcopy(self.parent),
            "children": copy.deepcopy(self.children),
            "related": {
                **({self.related_key: copy.deepcopy(self.related)} if self.related_key else {}),
                **copy.deepcopy(self.related_groups),
            },
            "finalizing": False,
        }

    def tick(self, now: datetime, **hook_args) -> dict:
        """One sync: call the hook, then apply its answer."""
        response = self.hook(self.request(), now=now, **hook_args)
        self.apply(response)
        self.last_response = response
        return response

    def apply(self, response: dict) -> None:
        desired: dict[str, dict[str, dict]] = {key: {} for key in self.strategies}
        for child in response.get("children") or []:
            desired[group_key(child)][child["metadata"]["name"]] = child
        for key, children in self.children.items():
            for name in list(children):
                if name not in desired[key]:
                    del children[name]
                    self.deleted.append(f"{key}/{name}")
        for key, wanted in desired.items():
            for name, child in wanted.items():
                self.put(key, name, child)
        generation = self.parent["metadata"].get("generation", 1)
        self.parent["status"] = {**(response.get("status") or {}), "observedGeneration": generation}

    def put(self, key: str, name: str, child: dict) -> None:
        existing = self.children[key].get(name)
        if existing is None:
            self.children[key][name] = {**copy.deepcopy(child), "status": {}}
            self.children[key][name]["metadata"]["generation"] = 1
            self.created.append(f"{key}/{name}")
        elif self.strategies[key] == "InPlace" and strip(existing) != strip(child):
            generation = existing["metadata"].get("generation", 1) + (existing.get("spec") != child.get("spec"))
            self.children[key][name] = {**copy.deepcopy(child), "status": existing.get("status", {})}
            self.children[key][name]["metadata"]["generation"] = generation
            self.updated.append(f"{key}/{name}")

    @property
    def status(self) -> dict:
        return self.parent["status"]

    def names(self, key: str) -> list[str]:
        return sorted(self.children[key])


def strip(child: dict) -> dict:
    """The fields a hook sets: everything but status and server-kept metadata."""
    metadata = {k: v for k, v in child.get("metadata", {}).items() if k != "generation"}
    return {**{k: v for k, v in child.items() if k != "status"}, "metadata": metadata}
