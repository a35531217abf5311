"""Metrics with worked numbers, confusion matrix, slices, evaluating a saved model."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlcicd_course import datasets, evaluation, modelstore, training
from mlcicd_course.errors import UserInputError

Y_TRUE = [1, 1, 1, 0, 0, 0, 0, 1]
Y_PRED = [1, 0, 1, 0, 1, 0, 0, 1]
SCORES = [0.9, 0.4, 0.8, 0.1, 0.6, 0.3, 0.2, 0.7]


def test_binary_metrics_by_hand():
    # TP = 3 (rows 0, 2, 7), FN = 1 (row 1), FP = 1 (row 4), TN = 3
    result = evaluation.classification_metrics(Y_TRUE, Y_PRED, SCORES)
    assert result["accuracy"] == 6 / 8
    assert result["precision"] == 3 / 4 and result["recall"] == 3 / 4
    assert result["f1"] == pytest.approx(2 * 0.75 * 0.75 / 1.5)
    # ROC AUC = share of (positive, negative) pairs ranked correctly
    positives = [s for s, y in zip(SCORES, Y_TRUE, strict=True) if y == 1]
    negatives = [s for s, y in zip(SCORES, Y_TRUE, strict=True) if y == 0]
    pairs = list(itertools.product(positives, negatives))
    assert result["roc_auc"] == pytest.approx(sum(p > n for p, n in pairs) / len(pairs))
    assert result["roc_auc"] == pytest.approx(15 / 16)


def test_roc_auc_only_where_it_applies():
    assert evaluation.classification_metrics(Y_TRUE, Y_PRED)["roc_auc"] is None
    one_class = evaluation.classification_metrics([1, 1], [1, 0], [0.9, 0.2], labels=[0, 1])
    assert one_class["roc_auc"] is None and one_class["recall"] == 0.5


def test_multiclass_uses_macro_averages():
    y_true = ["a", "a", "b", "b", "c", "c"]
    y_pred = ["a", "b", "b", "b", "c", "a"]
    result = evaluation.classification_metrics(y_true, y_pred, labels=["a", "b", "c"])
    # precision: a 1/2, b 2/3, c 1/1; recall: a 1/2, b 2/2, c 1/2
    assert result["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert result["recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert result["roc_auc"] is None


def test_metrics_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match="equally long"):
        evaluation.classification_metrics([1, 0], [1])


def test_confusion_matrix_rows_are_true_labels():
    result = evaluation.confusion(Y_TRUE, Y_PRED, [0, 1])
    assert result == {"labels": [0, 1], "matrix": [[3, 1], [1, 3]]}


def test_slices_by_hand():
    frame = pd.DataFrame({"plan": ["a", "a", "b", "b", "b", None]})
    y_true = [1, 0, 1, 1, 0, 1]
    y_pred = [1, 1, 1, 0, 0, 1]
    slices = evaluation.slice_metrics(frame, y_true, y_pred, ["plan"], min_rows=3)
    assert [(s.value, s.rows, s.small) for s in slices] == [
        ("<missing>", 1, True), ("a", 2, True), ("b", 3, False)]
    b = slices[2]
    assert b.accuracy == pytest.approx(2 / 3)
    assert b.positive_rate_true == pytest.approx(2 / 3)
    assert b.positive_rate_pred == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    training.train(datasets.generate_month(datasets.Scenario(), 1),
                   training.default_config()).save(path)
    return modelstore.load_model(path)


@pytest.fixture(scope="module")
def test_frame() -> pd.DataFrame:
    return datasets.generate_month(datasets.Scenario(), 4)


def test_evaluate_agrees_with_sklearn(saved, test_frame):
    result = evaluation.evaluate(saved, test_frame)
    x, y = training.prepare_features(test_frame, training.FeatureSpec.from_dict(
        saved.metadata["features"]))
    pred = saved.model.predict(x)
    assert result.metrics["accuracy"] == skm.accuracy_score(y, pred)
    assert result.metrics["f1"] == skm.f1_score(y, pred)
    assert result.metrics["roc_auc"] == skm.roc_auc_score(y, saved.model.predict_proba(x)[:, 1])
    assert np.array_equal(result.predictions, pred)
    assert sum(map(sum, result.confusion["matrix"])) == result.rows == 1000
    assert result.positive_rate_pred == pred.mean()
    assert 0.85 <= result.metrics["accuracy"] <= 0.95


def test_default_slices_are_the_categorical_features(saved, test_frame):
    result = evaluation.evaluate(saved, test_frame)
    assert [(s.column, s.value) for s in result.slices] == (
        [("contract", c) for c in datasets.CONTRACTS] + [("region", r) for r in datasets.REGIONS])
    assert sum(s.rows for s in result.slices if s.column == "contract") == 1000
    with pytest.raises(UserInputError, match="no column"):
        evaluation.evaluate(saved, test_frame, slices=["planet"])


def test_evaluation_dict_is_json_and_names_model_and_data(saved, test_frame):
    data = evaluation.evaluate(saved, test_frame).to_dict()
    json.dumps(data)
    assert data["kind"] == "mlcicd-evaluation"
    assert data["model"]["sha256"] == saved.sha256
    assert data["data"] == training.data_fingerprint(test_frame)
    assert data["model"]["training_data_sha256"] == saved.metadata["training_data"]["sha256"]
    assert set(data["metrics"]) == set(evaluation.METRICS)


def test_labels_the_model_never_saw_are_refused(saved, test_frame):
    with pytest.raises(UserInputError, match="label.*2.*never saw"):
        evaluation.evaluate(saved, test_frame.assign(churned=2))


def test_test_data_gets_the_same_checks_as_training_data(saved, test_frame):
    with pytest.raises(UserInputError, match="test data is missing column"):
        evaluation.evaluate(saved, test_frame.drop(columns=["churned"]))
    with pytest.raises(UserInputError, match="missing label"):
        evaluation.evaluate(saved, test_frame.assign(churned=np.nan))
