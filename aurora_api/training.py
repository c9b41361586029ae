"""The words of an MLTrainingJob's spec that the hook checks and the trainer acts on."""

from __future__ import annotations

# spec.dataset.builtin: the datasets the trainer has built in.
BUILTIN_DATASETS = ("diabetes", "california-housing")
# spec.evaluation.gate.metric: r2 grows with quality, rmse and mae shrink, so each admits one direction.
GATE_DIRECTIONS = {"r2": ">=", "rmse": "<=", "mae": "<="}
