"""Behavioural tests: what should (not) change a prediction, and obvious cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import training


def test_region_does_not_matter(test_data, predict_churn):
    """Invariance: churn does not depend on region, so moving a customer barely changes it."""
    before = predict_churn(test_data)
    moved = test_data.assign(region=np.where(test_data["region"] == "north", "south", "north"))
    change = np.abs(predict_churn(moved) - before)
    assert np.mean(change < 0.10) >= 0.95, f"{np.mean(change >= 0.10):.1%} of rows moved >= 0.10"


@pytest.mark.parametrize("column, delta, direction", [
    ("support_calls", 3, +1),
    ("tenure_months", 24, -1),
    ("monthly_charges", 30.0, +1),
])
def test_directional_expectations(test_data, predict_churn, column, delta, direction):
    """More support calls or higher bills raise churn risk; longer tenure lowers it."""
    before = predict_churn(test_data)
    after = predict_churn(test_data.assign(**{column: test_data[column] + delta}))
    change = direction * (after - before)
    assert change.mean() >= 0.05, f"{column} +{delta}: mean change {change.mean():+.3f}"
    assert np.mean(change >= -0.01) >= 0.95, (
        f"{column} +{delta}: {np.mean(change < -0.01):.1%} of rows moved the wrong way")


PROTOTYPES = {
    "new, unhappy, month-to-month": (1, dict(tenure_months=2, monthly_charges=110.0,
                                             support_calls=6, usage_hours=10.0,
                                             contract="month-to-month", region="east")),
    "loyal, quiet, two-year": (0, dict(tenure_months=60, monthly_charges=40.0, support_calls=0,
                                       usage_hours=80.0, contract="two-year", region="west")),
}


@pytest.mark.parametrize("name", sorted(PROTOTYPES))
def test_obvious_customers(model, features, name):
    """Minimum functionality: clear-cut customers get the clear-cut answer."""
    expected, row = PROTOTYPES[name]
    x, _ = training.prepare_features(pd.DataFrame([row]), features, require_target=False)
    predicted = model.model.predict(x)[0]
    assert predicted == expected, f"{name}: predicted {predicted}, expected {expected}"
