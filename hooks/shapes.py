"""JSON shapes: check a spec's field types before using it, and drop ill-typed status fields.

A shape is a type (or tuple of types), a dict of field shapes (the value must be an object;
unlisted fields are left alone) or a one-element list (a list whose items have that shape).
The API server enforces the CRD schema, but a hook must not fail on what it did not check
(an older CRD, a status written by hand): wrong types become InvalidSpec or are dropped.
"""

from __future__ import annotations

from collections.abc import Callable

NUMBER = (int, float)


def conforms(value, shape) -> bool:
    return checker(shape)(value)


# Each shape's check is built once (the spec is checked on every sync); the cache keeps the
# shape alive, so its id is never reused.
_CHECKERS: dict[int, tuple[object, Callable[[object], bool]]] = {}


def checker(shape) -> Callable[[object], bool]:
    entry = _CHECKERS.get(id(shape))
    if entry is None:
        entry = _CHECKERS[id(shape)] = (shape, build_checker(shape))
    return entry[1]


def build_checker(shape) -> Callable[[object], bool]:
    if isinstance(shape, dict):
        fields = [(key, build_checker(inner)) for key, inner in shape.items()]
        return lambda value: type(value) is dict and all(check(value[k]) for k, check in fields if k in value)
    if isinstance(shape, list):
        item = build_checker(shape[0])
        return lambda value: type(value) is list and all(map(item, value))
    # bool is an int to Python, never to JSON Schema.
    takes_bool = shape is bool or (isinstance(shape, tuple) and bool in shape)
    return lambda value: isinstance(value, shape) and (takes_bool or type(value) is not bool)


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
