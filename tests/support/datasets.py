"""Data the tests train on besides scikit-learn's own, and the rows they send for predictions."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes

# One row of the (scaled) diabetes features, as a request sends it.
ROW = [0.038, 0.050, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017]
# Two rows of them, the first being ROW.
ROWS = [
    [0.038, 0.050, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017],
    [-0.001, -0.044, -0.051, -0.026, -0.008, -0.019, 0.074, -0.039, -0.068, -0.092],
]
# A hundred rows near the scaled features' centre, the same on every run.
ROWS_100 = np.random.default_rng(7).normal(0, 0.05, size=(100, 10))
FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def shifted_diabetes(path: Path, shift: float = 150.0) -> Path:
    """builtin:diabetes with its target moved by `shift`, as a CSV whose target column is
    `target`: the same features, other answers (a label bug, say)."""
    data = load_diabetes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*FEATURES, "target"])
        for row, target in zip(data.data, data.target, strict=True):
            writer.writerow([*row, target + shift])
    return path


def diabetes_rows(count: int = 50) -> list[list[float]]:
    """The first rows of the diabetes data: requests whose predictions spread."""
    return [list(map(float, row)) for row in load_diabetes().data[:count]]
