"""The retention-offer experiment of chapter 07: assignment as the router does it, offers
from each arm's model, outcomes from the data set's own churn rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import datasets
from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments.retention import assign, run_offers
from mlcicd_course.serving import routing


class RuleModel:
    """Scores customers with the data set's true churn probability (a perfect model)."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        p = datasets.churn_probability(features)
        return np.column_stack([1 - p, p])


class ConstantModel:
    """Scores every customer the same."""

    def __init__(self, p: float) -> None:
        self.p = p

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.tile([1 - self.p, self.p], (len(features), 1))


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return datasets.generate_month(datasets.Scenario(months=1, rows_per_month=20_000), 1)


def test_assignment_is_the_routers_experiment_split(customers):
    ids = customers["customer_id"].head(2_000)
    table = routing.RoutingTable({"A": 50, "B": 50}, mode="experiment", seed="offer-1")
    assert assign(ids, ("A", "B"), seed="offer-1").tolist() == [
        routing.assign(table, str(i)) for i in ids]


def test_better_targeting_keeps_more_customers(customers):
    variant = assign(customers["customer_id"], ("none", "rule"), seed="offer-2")
    models = {"none": ConstantModel(0.0), "rule": RuleModel()}
    result = run_offers(customers, variant, models, rng=np.random.default_rng(5),
                        threshold=0.5, save_rate=0.5)
    assert result.columns.tolist() == ["customer_id", "variant", "churn_score", "offered",
                                       "stayed"]
    by_arm = result.groupby("variant")[["offered", "stayed"]].mean()
    assert by_arm.loc["none", "offered"] == 0
    assert (result["offered"] == (result["churn_score"] >= 0.5)).all()
    # The rule offers to about the churners; half of them are saved.
    churn = 1 - by_arm.loc["none", "stayed"]
    assert by_arm.loc["rule", "stayed"] - by_arm.loc["none", "stayed"] > 0.25 * churn


def test_the_same_seed_gives_the_same_draws(customers):
    """All customers in either arm, same seed: only the offered customers can differ."""
    head = customers.head(3_000)
    models = {"none": ConstantModel(0.0), "all": ConstantModel(0.9)}
    none = run_offers(head, np.full(len(head), "none"), models, rng=np.random.default_rng(1))
    offered = run_offers(head, np.full(len(head), "all"), models, rng=np.random.default_rng(1))
    assert (offered["stayed"] >= none["stayed"]).all(), "an offer never makes anyone leave"
    assert offered["stayed"].sum() > none["stayed"].sum()


@pytest.mark.parametrize(("variant", "options", "message"), [
    (["x"] * 10, {}, "no model for variant 'x'"),
    (["none"] * 9, {}, "9 variants for 10 customers"),
    (["none"] * 10, {"threshold": 1.5}, "threshold"),
])
def test_bad_settings_are_refused(customers, variant, options, message):
    with pytest.raises(UserInputError, match=message):
        run_offers(customers.head(10), np.array(variant), {"none": ConstantModel(0.1)},
                   rng=np.random.default_rng(0), **options)
