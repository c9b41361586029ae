"""Plain-text tables and number formats of the report, and the order of cells in it."""

from __future__ import annotations

import math

from serving.settings import ENCODINGS

CELL_ORDER = {name: i for i, name in enumerate(ENCODINGS)}


def cell_key(r: dict) -> tuple:
    return (CELL_ORDER.get(r["encoding"], 9), r["rows"], r["connections"])


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:,.{digits}f}"


def aligned(cells: list[str], widths: list[int]) -> str:
    """The first column left-aligned, the others right-aligned."""
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [aligned(headers, widths), "  ".join("-" * w for w in widths)]
    lines += [aligned(r, widths) for r in rows]
    return "\n".join(lines)
