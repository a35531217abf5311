"""Config-driven training: a YAML config -> a scikit-learn Pipeline -> a saved model.

The config (see config/model.yaml) names the target, the numeric and categorical
features, columns to ignore (identifiers), the preprocessing, the model type with its
parameters, the number of cross-validation folds and the seed::

    target: churned
    features:
      numeric: [tenure_months, monthly_charges, support_calls, usage_hours]
      categorical: [contract, region]
    ignore: [customer_id, month]
    preprocessing: {numeric_imputer: median, scale: true, categorical_imputer: most_frequent}
    model: {type: logistic_regression, params: {C: 1.0, max_iter: 1000}}
    cross_validation: {folds: 5}
    seed: 0

The pipeline is impute -> scale (numeric) and impute -> one-hot (categorical, unseen
categories ignored) -> model. `train` checks the data (`prepare_features`), runs
stratified k-fold cross-validation, fits on all rows and returns a `TrainedModel`
whose `save` writes the model and its metadata sidecar (`modelstore`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from mlcicd_course import datasets, modelstore
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_yaml
from mlcicd_course.validation import category_text

MODEL_TYPES = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "gradient_boosting": HistGradientBoostingClassifier,
    "dummy": DummyClassifier,
}
NUMERIC_IMPUTERS = ("median", "mean")
CATEGORICAL_IMPUTERS = ("most_frequent", "constant")
CONFIG_KEYS = ("target", "features", "ignore", "preprocessing", "model", "cross_validation",
               "seed")


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns are the target, numeric features, categorical features, ignored."""

    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignore: tuple[str, ...] = ()

    @property
    def features(self) -> tuple[str, ...]:
        """All feature columns, numeric first."""
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML and JSON."""
        return {"target": self.target, "numeric": list(self.numeric),
                "categorical": list(self.categorical), "ignore": list(self.ignore)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """The inverse of `to_dict`."""
        return cls(str(data["target"]), tuple(data["numeric"]), tuple(data["categorical"]),
                   tuple(data.get("ignore", ())))


@dataclass(frozen=True)
class TrainingConfig:
    """Everything `train` needs besides the data; read from YAML with `load_config`."""

    features: FeatureSpec
    model_type: str = "logistic_regression"
    model_params: Mapping[str, Any] = field(default_factory=dict)
    numeric_imputer: str = "median"
    scale: bool = True
    categorical_imputer: str = "most_frequent"
    cv_folds: int = 5
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The config in the YAML file's layout."""
        return {
            "target": self.features.target,
            "features": {"numeric": list(self.features.numeric),
                         "categorical": list(self.features.categorical)},
            "ignore": list(self.features.ignore),
            "preprocessing": {"numeric_imputer": self.numeric_imputer, "scale": self.scale,
                              "categorical_imputer": self.categorical_imputer},
            "model": {"type": self.model_type, "params": dict(self.model_params)},
            "cross_validation": {"folds": self.cv_folds},
            "seed": self.seed,
        }

    def with_model(self, model_type: str, **params: Any) -> TrainingConfig:
        """A copy with another model type and parameters."""
        return config_from_dict({**self.to_dict(), "model": {"type": model_type,
                                                              "params": params}})


def default_config() -> TrainingConfig:
    """The running example's config (the same as config/model.yaml)."""
    return TrainingConfig(
        features=FeatureSpec(datasets.TARGET, datasets.NUMERIC_FEATURES,
                             datasets.CATEGORICAL_FEATURES, datasets.ID_COLUMNS),
        model_params={"C": 1.0, "max_iter": 1000},
    )


def config_from_dict(data: Any, *, source: str = "config") -> TrainingConfig:
    """Check a config mapping (as read from YAML) and build a `TrainingConfig`."""
    def fail(message: str) -> UserInputError:
        return UserInputError(f"{source}: {message}")

    if not isinstance(data, Mapping):
        raise fail("expected a mapping with target, features and model")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(CONFIG_KEYS)}")
    if not isinstance(data.get("target"), str):
        raise fail("'target' must name the label column")
    features = data.get("features")
    if not isinstance(features, Mapping) or set(features) - {"numeric", "categorical"}:
        raise fail("'features' must be a mapping with 'numeric' and/or 'categorical' lists")
    numeric = _names(features.get("numeric", []), "features.numeric", fail)
    categorical = _names(features.get("categorical", []), "features.categorical", fail)
    ignore = _names(data.get("ignore", []), "ignore", fail)
    if not numeric and not categorical:
        raise fail("no features: list at least one under features.numeric or categorical")
    seen: dict[str, str] = {}
    for group, names in (("numeric", numeric), ("categorical", categorical), ("ignore", ignore),
                         ("target", (data["target"],))):
        for name in names:
            if name in seen:
                raise fail(f"column {name!r} is listed twice ({seen[name]} and {group})")
            seen[name] = group
    pre = data.get("preprocessing", {}) or {}
    if not isinstance(pre, Mapping) or set(pre) - {"numeric_imputer", "scale",
                                                   "categorical_imputer"}:
        raise fail("'preprocessing' allows numeric_imputer, scale, categorical_imputer")
    numeric_imputer = pre.get("numeric_imputer", "median")
    if numeric_imputer not in NUMERIC_IMPUTERS:
        raise fail(f"numeric_imputer must be one of {', '.join(NUMERIC_IMPUTERS)}")
    categorical_imputer = pre.get("categorical_imputer", "most_frequent")
    if categorical_imputer not in CATEGORICAL_IMPUTERS:
        raise fail(f"categorical_imputer must be one of {', '.join(CATEGORICAL_IMPUTERS)}")
    scale = pre.get("scale", True)
    if not isinstance(scale, bool):
        raise fail("preprocessing.scale must be true or false")
    model = data.get("model", {}) or {}
    if not isinstance(model, Mapping) or set(model) - {"type", "params"}:
        raise fail("'model' must be a mapping with 'type' and 'params'")
    model_type = model.get("type", "logistic_regression")
    if model_type not in MODEL_TYPES:
        raise fail(f"unknown model type {model_type!r}; choose from {', '.join(MODEL_TYPES)}")
    params = model.get("params", {}) or {}
    if not isinstance(params, Mapping):
        raise fail("model.params must be a mapping of parameter names to values")
    valid = MODEL_TYPES[model_type]().get_params()
    bad = sorted(set(params) - set(valid))
    if bad:
        raise fail(f"{model_type} has no parameter {bad[0]!r}")
    cv = data.get("cross_validation", {}) or {}
    if not isinstance(cv, Mapping) or set(cv) - {"folds"}:
        raise fail("'cross_validation' allows only 'folds'")
    folds = cv.get("folds", 5)
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise fail("cross_validation.folds must be a whole number >= 2")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise fail("seed must be a whole number >= 0")
    return TrainingConfig(
        features=FeatureSpec(data["target"], numeric, categorical, ignore),
        model_type=model_type, model_params=dict(params), numeric_imputer=numeric_imputer,
        scale=scale, categorical_imputer=categorical_imputer, cv_folds=folds, seed=seed)


def _names(value: Any, key: str, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"'{key}' must be a list of column names")
    return tuple(value)


def load_config(path: str | os.PathLike[str]) -> TrainingConfig:
    """Read and check a YAML training config."""
    return config_from_dict(read_yaml(path, what="config"), source=str(path))


def build_pipeline(config: TrainingConfig) -> Pipeline:
    """The unfitted Pipeline: impute+scale numeric, impute+one-hot categorical, model."""
    parts = []
    if config.features.numeric:
        numeric = Pipeline([
            ("impute", SimpleImputer(strategy=config.numeric_imputer)),
            ("scale", StandardScaler() if config.scale else "passthrough"),
        ])
        parts.append(("numeric", numeric, list(config.features.numeric)))
    if config.features.categorical:
        categorical = Pipeline([
            ("impute", SimpleImputer(strategy=config.categorical_imputer,
                                     fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ])
        parts.append(("categorical", categorical, list(config.features.categorical)))
    estimator = MODEL_TYPES[config.model_type]()
    params = dict(config.model_params)
    if "random_state" in estimator.get_params() and "random_state" not in params:
        params["random_state"] = config.seed
    estimator.set_params(**params)
    return Pipeline([("preprocess", ColumnTransformer(parts, remainder="drop")),
                     ("model", estimator)])


def prepare_features(
    frame: pd.DataFrame, spec: FeatureSpec, *, require_target: bool = True, what: str = "data",
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Check `frame` against `spec`; return (features, target) ready for the pipeline.

    Raises UserInputError for: no rows, a missing feature or target column, a column
    that is neither feature, target nor ignored, non-numeric or infinite values in a
    numeric feature, missing labels. Rows are counted from 0 (the first data row).
    Categorical values become strings (missing stays missing).
    """
    if len(frame) == 0:
        raise UserInputError(f"{what} has no rows")
    required = list(spec.features) + ([spec.target] if require_target else [])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserInputError(f"{what} is missing column(s): {', '.join(missing)}")
    known = set(spec.features) | set(spec.ignore) | {spec.target}
    extra = [str(c) for c in frame.columns if c not in known]
    if extra:
        raise UserInputError(
            f"{what} has unexpected column(s) {', '.join(extra)}: not a feature, the target "
            "or an ignored column of the model's config")
    features = {}
    for name in spec.numeric:
        column = frame[name]
        values = pd.to_numeric(column, errors="coerce")
        bad = column.notna().to_numpy() & values.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise UserInputError(
                f"{what}: column {name} should be numeric but has {int(bad.sum())} "
                f"non-numeric value(s), e.g. {column.iloc[row]!r} in row {row}")
        infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise UserInputError(f"{what}: column {name} has infinite values, e.g. in row {row}")
        features[name] = values.astype(float)
    for name in spec.categorical:
        column = frame[name].astype(object)
        features[name] = column.where(column.isna(), column.map(category_text))
    x = pd.DataFrame(features, index=frame.index)
    if not require_target and spec.target not in frame.columns:
        return x, None
    y = frame[spec.target]
    if y.isna().any():
        rows = np.flatnonzero(y.isna().to_numpy())
        raise UserInputError(f"{what}: target {spec.target} has {len(rows)} missing "
                             f"label(s), e.g. in row {int(rows[0])}")
    return x, y


def data_fingerprint(frame: pd.DataFrame) -> dict[str, Any]:
    """sha256 of the frame written as CSV (no index), with its row and column counts.

    The same CSV file read twice gives the same fingerprint, so a metrics file can
    prove which data it was computed on.
    """
    text = frame.to_csv(index=False, lineterminator="\n")
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "rows": int(len(frame)), "columns": [str(c) for c in frame.columns]}


def _json_ready(value: Any) -> Any:
    """A JSON-friendly version of a parameter value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    return repr(value)


@dataclass
class TrainedModel:
    """A fitted pipeline with what is needed to reproduce and audit it."""

    pipeline: Pipeline
    config: TrainingConfig
    classes: list[Any]
    cv_scores: list[float]
    train_accuracy: float
    training_data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        """Cross-validated and training-set accuracy."""
        return {
            "cv_folds": self.config.cv_folds,
            "cv_accuracy_folds": [round(s, 6) for s in self.cv_scores],
            "cv_accuracy_mean": round(float(np.mean(self.cv_scores)), 6),
            "cv_accuracy_std": round(float(np.std(self.cv_scores)), 6),
            "train_accuracy": round(self.train_accuracy, 6),
        }

    def to_dict(self) -> dict[str, Any]:
        """The metadata saved beside the model (without the file's sha256)."""
        params = self.pipeline.named_steps["model"].get_params(deep=False)
        return {
            "model_type": self.config.model_type,
            "params": {k: _json_ready(v) for k, v in sorted(params.items())},
            "config": self.config.to_dict(),
            "features": self.config.features.to_dict(),
            "classes": [_json_ready(c) for c in self.classes],
            "training_data": self.training_data,
            "metrics": self.metrics(),
            "warnings": list(self.warnings),
        }

    def save(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the model and its metadata sidecar; return the metadata."""
        return modelstore.save_model(self.pipeline, path, self.to_dict())

    def files(self, path: str | os.PathLike[str]) -> tuple[dict[Path, bytes | str],
                                                          dict[str, Any]]:
        """The model and sidecar files to write, and the metadata (`modelstore.model_files`)."""
        return modelstore.model_files(self.pipeline, path, self.to_dict())


def train(
    frame: pd.DataFrame, config: TrainingConfig, *, what: str = "training data",
) -> TrainedModel:
    """Check the data, cross-validate, fit on all rows; return the `TrainedModel`."""
    x, y = prepare_features(frame, config.features, what=what)
    counts = y.value_counts()
    if len(counts) < 2:
        raise UserInputError(f"{what}: target {config.features.target} has only one class "
                             f"({_json_ready(counts.index[0])!r}); a classifier needs at least two")
    if counts.min() < config.cv_folds:
        raise UserInputError(
            f"{what}: class {_json_ready(counts.idxmin())!r} has {int(counts.min())} row(s), "
            f"fewer than the {config.cv_folds} cross-validation folds")
    pipeline = build_pipeline(config)
    folds = StratifiedKFold(n_splits=config.cv_folds, shuffle=True, random_state=config.seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            scores = cross_val_score(pipeline, x, y, cv=folds, scoring="accuracy",
                                     error_score="raise")
            pipeline.fit(x, y)
        except InvalidParameterError as err:
            raise UserInputError(f"invalid model parameter: {err}") from None
    messages = sorted({str(w.message).splitlines()[0] for w in caught
                       if issubclass(w.category, ConvergenceWarning)})
    return TrainedModel(
        pipeline=pipeline,
        config=config,
        classes=[_json_ready(c) for c in pipeline.classes_],
        cv_scores=[float(s) for s in scores],
        train_accuracy=float(pipeline.score(x, y)),
        training_data=data_fingerprint(frame),
        warnings=messages,
    )
