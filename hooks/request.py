"""Reading Metacontroller's hook request: the parent and the observed objects, checked for shape.

Anything that is not a hook body raises MalformedRequest, answered 400, so that
Metacontroller changes nothing.
"""

from __future__ import annotations

from hooks.errors import MalformedRequest


def parent_parts(request: dict) -> tuple[dict, dict, dict]:
    """The parent, its spec as written, and its previous status ({} when there is none)."""
    if not isinstance(request, dict) or not isinstance(request.get("parent"), dict):
        raise MalformedRequest("the request has no parent object")
    parent = request["parent"]
    metadata, spec = parent.get("metadata"), parent.get("spec") or {}
    if not isinstance(metadata, dict) or not metadata.get("name") or not isinstance(spec, dict):
        raise MalformedRequest("the parent has no metadata.name or its spec is not an object")
    status = parent.get("status") if isinstance(parent.get("status"), dict) else {}
    return parent, spec, status


def observed_group(request: dict, key: str, field: str = "children") -> dict:
    """The observed objects of one group, e.g. children['Job.batch/v1'], by name.

    Hooks of version v2 key namespaced objects `namespace/name`, v1 hooks (for objects of the
    parent's namespace) by name: objects of the parent's namespace are read by name either way;
    cluster-scoped ones are keyed by name, and those of other namespaces keep `namespace/name`."""
    group = (request.get(field) or {}).get(key) or {}
    if not isinstance(group, dict) or not all(isinstance(v, dict) for v in group.values()):
        raise MalformedRequest(f"{field}[{key!r}] is not an object of objects")
    parent = request.get("parent") if isinstance(request.get("parent"), dict) else {}
    namespace = (parent.get("metadata") or {}).get("namespace") if isinstance(parent.get("metadata"), dict) else None
    prefix = f"{namespace}/" if isinstance(namespace, str) and namespace else None
    if prefix is None or not any(name.startswith(prefix) for name in group):
        return group
    return {name.removeprefix(prefix): obj for name, obj in group.items()}
