"""Evaluating a classifier: metrics, confusion matrix, prediction distribution, slices.

For two classes the positive class is the larger label (1 for churned) and precision,
recall and F1 are those of that class; ROC AUC is computed from predicted
probabilities when both classes occur in the labels. For more classes precision,
recall and F1 are macro averages and ROC AUC is left out (None). Slices are the rows
sharing one value of a column (e.g. contract = two-year); a slice with fewer than
`min_rows` rows is reported but marked `small`, since its metrics are mostly noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlcicd_course.errors import UserInputError
from mlcicd_course.modelstore import LoadedModel
from mlcicd_course.training import FeatureSpec, data_fingerprint, prepare_features
from mlcicd_course.validation import category_text

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
DEFAULT_MIN_SLICE_ROWS = 30


def classification_metrics(
    y_true: Sequence[Any], y_pred: Sequence[Any], y_score: Sequence[float] | None = None,
    *, labels: Sequence[Any] | None = None,
) -> dict[str, float | None]:
    """accuracy, precision, recall, f1 and roc_auc (None where it does not apply).

    `labels` are the model's classes (default: those seen in y_true and y_pred);
    `y_score` is P(positive class) for two classes.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise ValueError(f"need equally long, non-empty labels and predictions, got "
                         f"{len(y_true)} and {len(y_pred)}")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    binary = len(labels) == 2
    kwargs: dict[str, Any] = ({"average": "binary", "pos_label": labels[-1]} if binary
                              else {"average": "macro", "labels": labels})
    result: dict[str, float | None] = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(skm.precision_score(y_true, y_pred, zero_division=0, **kwargs)),
        "recall": float(skm.recall_score(y_true, y_pred, zero_division=0, **kwargs)),
        "f1": float(skm.f1_score(y_true, y_pred, zero_division=0, **kwargs)),
        "roc_auc": None,
    }
    if binary and y_score is not None and len(set(y_true)) == 2:
        result["roc_auc"] = float(skm.roc_auc_score(y_true == labels[-1], np.asarray(y_score)))
    return result


def confusion(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any],
) -> dict[str, Any]:
    """The confusion matrix as {"labels": [...], "matrix": rows = true, columns = predicted}."""
    matrix = skm.confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=list(labels))
    return {"labels": list(labels), "matrix": matrix.tolist()}


@dataclass(frozen=True)
class SliceMetrics:
    """Metrics of the rows where `column == value`."""

    column: str
    value: str
    rows: int
    accuracy: float
    positive_rate_true: float
    positive_rate_pred: float
    small: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"column": self.column, "value": self.value, "rows": self.rows,
                "accuracy": round(self.accuracy, 6),
                "positive_rate_true": round(self.positive_rate_true, 6),
                "positive_rate_pred": round(self.positive_rate_pred, 6), "small": self.small}


def slice_metrics(
    frame: pd.DataFrame, y_true: Sequence[Any], y_pred: Sequence[Any], columns: Sequence[str],
    *, positive: Any = 1, min_rows: int = DEFAULT_MIN_SLICE_ROWS,
) -> list[SliceMetrics]:
    """Accuracy and positive rates per value of each column (missing values: "<missing>")."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    result = []
    for column in columns:
        column_values = frame[column].astype(object)
        values = column_values.where(column_values.isna(), column_values.map(category_text))
        values = values.where(values.notna(), "<missing>").to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            n = int(mask.sum())
            result.append(SliceMetrics(
                column=column, value=value, rows=n,
                accuracy=float((y_true[mask] == y_pred[mask]).mean()),
                positive_rate_true=float((y_true[mask] == positive).mean()),
                positive_rate_pred=float((y_pred[mask] == positive).mean()),
                small=n < min_rows))
    return result


@dataclass
class Evaluation:
    """A model evaluated on one data set. `predictions` stay in memory (not in to_dict)."""

    metrics: dict[str, float | None]
    confusion: dict[str, Any]
    slices: list[SliceMetrics]
    rows: int
    positive_label: Any
    positive_rate_true: float
    positive_rate_pred: float
    data: dict[str, Any]
    model: dict[str, Any]
    y_true: np.ndarray = field(repr=False)
    predictions: np.ndarray = field(repr=False)

    def correct(self) -> np.ndarray:
        """Boolean per row: was the prediction right?"""
        return self.y_true == self.predictions

    def to_dict(self) -> dict[str, Any]:
        """The metrics file that `mlcicd evaluate` writes."""
        return {
            "kind": "mlcicd-evaluation",
            "metrics": {k: (None if v is None else round(v, 6)) for k, v in self.metrics.items()},
            "confusion": self.confusion,
            "prediction_distribution": {
                "positive_label": self.positive_label,
                "positive_rate_true": round(self.positive_rate_true, 6),
                "positive_rate_pred": round(self.positive_rate_pred, 6),
            },
            "slices": [s.to_dict() for s in self.slices],
            "rows": self.rows,
            "data": self.data,
            "model": self.model,
        }


def evaluate(
    loaded: LoadedModel, frame: pd.DataFrame, *, slices: Sequence[str] | None = None,
    min_slice_rows: int = DEFAULT_MIN_SLICE_ROWS, what: str = "test data",
) -> Evaluation:
    """Evaluate a loaded model on labelled data (checked as in training).

    Slices default to the model's categorical features.
    """
    spec = FeatureSpec.from_dict(loaded.metadata["features"])
    x, y = prepare_features(frame, spec, what=what)
    classes = list(loaded.metadata.get("classes") or loaded.model.classes_)
    unseen = sorted(set(y.tolist()) - set(classes), key=str)
    if unseen:
        raise UserInputError(
            f"{what}: target {spec.target} has label(s) {', '.join(map(repr, unseen))} that "
            f"the model never saw (its classes: {', '.join(map(repr, classes))})")
    y_true = y.to_numpy()
    y_pred = np.asarray(loaded.model.predict(x))
    positive = classes[-1]
    y_score = None
    if len(classes) == 2 and hasattr(loaded.model, "predict_proba"):
        proba = loaded.model.predict_proba(x)
        y_score = proba[:, list(loaded.model.classes_).index(positive)]
    columns = list(spec.categorical if slices is None else slices)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserInputError(f"{what} has no column(s) {', '.join(missing)} to slice by")
    return Evaluation(
        metrics=classification_metrics(y_true, y_pred, y_score, labels=classes),
        confusion=confusion(y_true, y_pred, classes),
        slices=slice_metrics(frame, y_true, y_pred, columns, positive=positive,
                             min_rows=min_slice_rows),
        rows=int(len(frame)),
        positive_label=positive,
        positive_rate_true=float((y_true == positive).mean()),
        positive_rate_pred=float((y_pred == positive).mean()),
        data=data_fingerprint(frame),
        model={"file": loaded.path.name, "sha256": loaded.sha256,
               "model_type": loaded.metadata.get("model_type"),
               "training_data_sha256": loaded.metadata.get("training_data", {}).get("sha256")},
        y_true=y_true,
        predictions=y_pred,
    )
