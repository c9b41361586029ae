"""Fixtures of the process tier: one model per test module, for the servers a module starts."""

from __future__ import annotations

import joblib
import pytest

from tests.support.models import train


@pytest.fixture(scope="module")
def trained_module(tmp_path_factory):
    """A promoted ridge model trained once for the module: (root, model, version)."""
    root = tmp_path_factory.mktemp("models")
    code, summary = train(root)
    assert code == 0, summary
    return root, "diabetes", summary["version"]


@pytest.fixture(scope="module")
def served(trained_module):
    """That model's store and its estimator, whose predictions the servers must give: (root, estimator)."""
    root, model, version = trained_module
    estimator = joblib.load(root / model / "versions" / version / "model.joblib")
    return root, estimator
