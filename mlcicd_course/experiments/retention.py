"""The running example's online experiment: retention offers targeted by a churn model.

Each month the business offers a discount to the customers a churn model flags
(predicted churn probability >= `threshold`). Whether model B is better than model A
is then a business question with a business outcome: do more customers STAY when B
picks who gets the offer? Accuracy on a test set does not answer it; an experiment
does. Each customer is assigned to A or B by the keyed hash (`hashing.buckets`), the
arm's model picks the offers, and a month later we see who stayed.

How the simulation decides who stays (the learner's stand-in for the real world):
a customer's true churn probability p comes from the data set's own rule
(`datasets.churn_probability`); an offer saves a share `save_rate` of would-be
churners, so p becomes p * (1 - save_rate); one uniform draw u per customer decides,
stayed = u >= p. Running the same month again with the same seed and another
assignment reuses the same draws, so the "what if everyone had had model B" answer
differs from the real one only through the offers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mlcicd_course import datasets
from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments import hashing

COLUMNS = ("customer_id", "variant", "churn_score", "offered", "stayed")


def assign(unit_ids: pd.Series, variants: tuple[str, str], *, seed: str) -> np.ndarray:
    """The variant of each unit: the first below bucket 0.5, the second above (50/50).

    The same layout as the router's experiment mode with weights 50/50.
    """
    return np.where(hashing.buckets(seed, unit_ids) < 0.5, variants[0], variants[1])


def run_offers(customers: pd.DataFrame, variant: np.ndarray | pd.Series,
               models: Mapping[str, Any], *, rng: np.random.Generator,
               threshold: float = 0.5, save_rate: float = 0.3,
               concept: float = 0.0) -> pd.DataFrame:
    """One month of the experiment: each customer's arm, score, offer, and whether they stayed.

    `variant[i]` names the model in `models` (fitted pipelines with `predict_proba`)
    that scores customer i; `concept` is the month's concept-drift level.
    """
    if not 0 < threshold < 1 or not 0 <= save_rate <= 1:
        raise UserInputError("threshold must be in (0, 1) and save_rate in [0, 1]")
    variant = np.asarray(variant, dtype=object)
    if len(variant) != len(customers):
        raise UserInputError(f"{len(variant)} variants for {len(customers)} customers")
    unknown = sorted(set(variant) - set(models))
    if unknown:
        raise UserInputError(f"no model for variant {unknown[0]!r}")
    features = customers[list(datasets.FEATURES)]
    score = np.zeros(len(customers))
    for name in sorted(set(variant)):
        rows = variant == name
        score[rows] = models[name].predict_proba(features[rows])[:, 1]
    offered = score >= threshold
    p_churn = datasets.churn_probability(customers, concept) * np.where(offered,
                                                                        1 - save_rate, 1)
    stayed = rng.random(len(customers)) >= p_churn
    return pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(),
                         "variant": variant.astype(str), "churn_score": score,
                         "offered": offered.astype(int), "stayed": stayed.astype(int)},
                        columns=list(COLUMNS))
