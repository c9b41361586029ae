"""The verdict of one analysis check (status.analysis.verdict)."""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    PASS = "Pass"  # every threshold held on enough requests
    FAIL = "Fail"  # a threshold was crossed; failedChecks counts it
    INCONCLUSIVE = "Inconclusive"  # too few requests or predictions to tell
