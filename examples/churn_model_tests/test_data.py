"""Data tests: the test data itself must be fit to judge the model."""

from __future__ import annotations

from mlcicd_course import validation


def test_test_data_matches_the_schema(test_data, schema):
    report = validation.validate(test_data, schema)
    assert report.valid, "\n".join([report.summary(), *(f.line() for f in report.failures)])


def test_every_slice_has_enough_rows_to_judge(test_data, features):
    for column in features.categorical:
        counts = test_data[column].value_counts()
        assert counts.min() >= 30, f"{column}: slice {counts.idxmin()!r} has {counts.min()} rows"


def test_both_classes_are_present(test_data, features):
    rate = test_data[features.target].mean()
    assert 0.1 <= rate <= 0.9, f"churn rate {rate:.3f}: too one-sided to judge a classifier"
