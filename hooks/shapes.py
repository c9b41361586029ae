"""JSON shapes: check a spec's field types before using it, and drop ill-typed status fields.

A shape is a type (or tuple of types), a dict of field shapes (the value must be an object;
unlisted fields are left alone) or a one-element list (a list whose items have that shape).
The API server enforces the CRD schema, but a hook must not fail on what it did not check
(an older CRD, a status written by hand): wrong types become InvalidSpec or are dropped.
"""

from __future__ import annotations

NUMBER = (int, float)


def conforms(value, shape) -> bool:
    if isinstance(shape, dict):
        return type(value) is dict and all(conforms(value[k], s) for k, s in shape.items() if k in value)
    if isinstance(shape, list):
        return type(value) is list and all(conforms(item, shape[0]) for item in value)
    # bool is an int to Python, never to JSON Schema.
    if type(value) is bool:
        return shape is bool or (isinstance(shape, tuple) and bool in shape)
    return isinstance(value, shape)


def shape_errors(value, shape, where: str) -> list[str]:
    """Every field whose type is wrong, named by its path (nothing to walk when all conform)."""
    if conforms(value, shape):
        return []
    if isinstance(shape, dict) and isinstance(value, dict):
        return [e for k, s in shape.items() if k in value for e in shape_errors(value[k], s, f"{where}.{k}")]
    if isinstance(shape, dict):
        return [f"{where} must be an object"]
    kind = "a list" if isinstance(shape, list) else "of the right type"
    return [f"{where} {str(value)[:40]!r} is not {kind}"]


def cleaned(value: dict, shape: dict) -> dict:
    """The fields of `value` whose types match `shape` (recursively for objects)."""
    kept = {}
    for key, item in value.items():
        if key not in shape:
            continue
        if isinstance(shape[key], dict):
            if isinstance(item, dict):
                kept[key] = cleaned(item, shape[key])
        elif conforms(item, shape[key]):
            kept[key] = item
    return kept
