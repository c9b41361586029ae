"""A test double of the Kubernetes API server and Metacontroller, the one boundary we cannot run here.

It does what tests/fixtures cannot show over several ticks: it keeps the observed
children, applies a hook response the way Metacontroller does (create what is new,
never update with OnDelete, delete what was omitted), and replaces the parent's status
whole, adding observedGeneration. Tests play the Job controller and kubelet by setting
child statuses and related pods between ticks.
"""

from __future__ import annotations

import copy
from datetime import datetime


class MetacontrollerDouble:
    def __init__(self, parent: dict, hook, *, child_key: str, related_key: str | None = None):
        self.parent = copy.deepcopy(parent)
        self.hook = hook
        self.child_key = child_key
        self.related_key = related_key
        self.children: dict[str, dict] = {}
        self.related: dict[str, dict] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.last_response: dict = {}

    def request(self) -> dict:
        body = {
            "controller": {"kind": "CompositeController", "metadata": {"name": "test"}},
            "parent": copy.deepcopy(self.parent),
            "children": {self.child_key: copy.deepcopy(self.children)},
            "related": {self.related_key: copy.deepcopy(self.related)} if self.related_key else {},
            "finalizing": False,
        }
        return body

    def tick(self, now: datetime) -> dict:
        """One sync: call the hook, then apply its answer."""
        response = self.hook(self.request(), now=now)
        self.apply(response)
        self.last_response = response
        return response

    def apply(self, response: dict) -> None:
        desired = {child["metadata"]["name"]: child for child in response.get("children") or []}
        for name in list(self.children):
            if name not in desired:
                del self.children[name]
                self.deleted.append(name)
        for name, child in desired.items():
            if name not in self.children:
                # OnDelete: only missing children are created; existing ones are left as they are.
                self.children[name] = {**copy.deepcopy(child), "status": {}}
                self.created.append(name)
        generation = self.parent["metadata"].get("generation", 1)
        self.parent["status"] = {**(response.get("status") or {}), "observedGeneration": generation}

    @property
    def status(self) -> dict:
        return self.parent["status"]
