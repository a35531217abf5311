"""Unit tests of the preprocessing code (the package's pipeline, not a copy of it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import training
from mlcicd_course.errors import UserInputError

SPEC = training.FeatureSpec("y", numeric=("a", "b"), categorical=("plan",))


@pytest.fixture
def preprocess():
    """The preprocessing step of a fresh pipeline built from a small config."""
    return training.build_pipeline(training.TrainingConfig(SPEC)).named_steps["preprocess"]


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, np.nan, 4], "b": [5, np.nan, 7, 8],
                         "plan": ["x", "y", None, "x"], "y": [0, 1, 0, 1]})


def test_missing_numbers_get_the_training_median(preprocess, frame):
    x, _ = training.prepare_features(frame, SPEC)
    impute = preprocess.fit(x).named_transformers_["numeric"].named_steps["impute"]
    assert impute.statistics_.tolist() == [2.0, 7.0]  # medians of (1, 2, 4) and (5, 7, 8)


def test_numbers_are_standardised(preprocess, frame):
    x, _ = training.prepare_features(frame, SPEC)
    numeric = preprocess.fit(x).named_transformers_["numeric"].transform(x[["a", "b"]])
    assert numeric.mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-12)
    assert numeric.std(axis=0) == pytest.approx([1.0, 1.0])


def test_missing_categories_get_the_most_frequent_one(preprocess, frame):
    x, _ = training.prepare_features(frame, SPEC)
    encoded = preprocess.fit(x).transform(x)[:, 2:]  # one-hot columns: x, y
    assert encoded.tolist() == [[1, 0], [0, 1], [1, 0], [1, 0]]


def test_unseen_categories_encode_as_all_zeros(preprocess, frame):
    x, _ = training.prepare_features(frame, SPEC)
    new = x.assign(plan=["z", "z", "z", "z"])
    assert preprocess.fit(x).transform(new)[:, 2:].sum() == 0


@pytest.mark.parametrize("codes", [[1, 2, 1, 2], [1.0, 2.0, 1.0, 2.0], ["1", "2", "1", "2"]])
def test_category_codes_mean_the_same_whatever_their_dtype(frame, codes):
    """A CSV column of codes with blanks reads as float (1.0): still category "1"."""
    x, _ = training.prepare_features(frame.assign(plan=codes), SPEC)
    assert x["plan"].tolist() == ["1", "2", "1", "2"]


@pytest.mark.parametrize("change, message", [
    ({"a": ["1", "two", "3", "4"]}, "should be numeric"),
    ({"b": [1.0, np.inf, 2.0, 3.0]}, "infinite values"),
    ({"y": [0, None, 1, 1]}, "missing label"),
])
def test_bad_rows_are_refused_with_a_message(frame, change, message):
    with pytest.raises(UserInputError, match=message):
        training.prepare_features(frame.assign(**change), SPEC)
