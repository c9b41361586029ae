"""The quality gate: a bound on one evaluation metric, e.g. `r2>=0.6` or `rmse<=0.5`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from aurora_api.training import GATE_DIRECTIONS
from trainer.errors import InputError

GATE_RE = re.compile(r"^\s*(\w+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    def check(self, metrics: dict) -> tuple[bool, str]:
        """Return (passed, reason) for the measured metrics."""
        value = metrics[self.metric]
        passed = value >= self.threshold if self.op == ">=" else value <= self.threshold
        verdict, op = ("passed", self.op) if passed else ("failed", negate(self.op))
        return passed, f"gate {verdict}: {self.metric} {value:.4g} {op} {self.threshold:g}"

    def to_dict(self) -> dict:
        return {"metric": self.metric, "op": self.op, "threshold": self.threshold}


def negate(op: str) -> str:
    return "<" if op == ">=" else ">"


def parse_gate(text: str) -> Gate:
    """Parse 'metric>=x' / 'metric<=x'; raise InputError naming what is wrong."""
    match = GATE_RE.match(text)
    if not match:
        raise InputError(f"gate {text!r}: expected METRIC>=VALUE or METRIC<=VALUE, e.g. 'r2>=0.6'")
    metric, op, raw = match.groups()
    if metric not in GATE_DIRECTIONS:
        raise InputError(f"gate {text!r}: unknown metric {metric!r}; choose one of {', '.join(GATE_DIRECTIONS)}")
    if op != GATE_DIRECTIONS[metric]:
        raise InputError(f"gate {text!r}: {metric} must use {GATE_DIRECTIONS[metric]}")
    try:
        threshold = float(raw)
    except ValueError:
        raise InputError(f"gate {text!r}: {raw!r} is not a number") from None
    if not math.isfinite(threshold):
        raise InputError(f"gate {text!r}: the threshold must be finite")
    return Gate(metric, op, threshold)
