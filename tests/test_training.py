"""Config-driven training: config checks, the pipeline, data checks, CV, reproducibility."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from mlcicd_course import datasets, modelstore, training
from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_csv
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return datasets.generate_month(datasets.Scenario(), 1)


@pytest.fixture(scope="module")
def config() -> training.TrainingConfig:
    return training.default_config()


@pytest.fixture(scope="module")
def trained(frame, config) -> training.TrainedModel:
    return training.train(frame, config)


# --------------------------------------------------------------------------------- config


def test_shipped_config_is_the_default_config():
    assert training.load_config(ROOT / "config" / "model.yaml") == training.default_config()


def test_config_round_trips_through_its_dict(config):
    assert training.config_from_dict(config.to_dict()) == config
    forest = config.with_model("random_forest", n_estimators=10)
    assert forest.model_type == "random_forest" and forest.model_params == {"n_estimators": 10}
    assert forest.features == config.features


def base_dict() -> dict:
    return training.default_config().to_dict()


@pytest.mark.parametrize("change, message", [
    ({"colour": 1}, "unknown key 'colour'"),
    ({"target": None}, "'target' must name"),
    ({"features": {"numeric": [], "categorical": []}}, "no features"),
    ({"features": {"numeric": "tenure_months"}}, "must be a list of column names"),
    ({"features": {"numbers": ["a"]}}, "'features' must be a mapping"),
    ({"ignore": ["churned"]}, "column 'churned' is listed twice (ignore and target)"),
    ({"model": {"type": "svm"}}, "unknown model type 'svm'"),
    ({"model": {"type": "logistic_regression", "params": {"trees": 5}}}, "no parameter 'trees'"),
    ({"cross_validation": {"folds": 1}}, "folds must be a whole number >= 2"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"preprocessing": {"numeric_imputer": "mode"}}, "numeric_imputer must be one of"),
    ({"preprocessing": {"scale": "yes"}}, "scale must be true or false"),
])
def test_bad_configs_are_refused_with_a_clear_message(change, message):
    with pytest.raises(UserInputError) as info:
        training.config_from_dict({**base_dict(), **change}, source="c.yaml")
    assert str(info.value).startswith("c.yaml: ") and message in str(info.value)


def test_unreadable_config_files(tmp_path):
    with pytest.raises(UserInputError, match="config file not found"):
        training.load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: [churned\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        training.load_config(bad)


# ------------------------------------------------------------------------------- pipeline


def test_pipeline_steps_and_seed(config):
    pipeline = training.build_pipeline(config)
    assert list(pipeline.named_steps) == ["preprocess", "model"]
    pre = pipeline.named_steps["preprocess"]
    assert [(name, cols) for name, _, cols in pre.transformers] == [
        ("numeric", list(datasets.NUMERIC_FEATURES)),
        ("categorical", list(datasets.CATEGORICAL_FEATURES))]
    assert pipeline.named_steps["model"].get_params()["random_state"] == 0
    forest = training.build_pipeline(config.with_model("random_forest", random_state=7))
    assert forest.named_steps["model"].random_state == 7


def test_pipeline_imputes_with_the_training_median_and_scales():
    """The source chapter's preprocessing unit tests, run on the package's own pipeline."""
    config = training.TrainingConfig(training.FeatureSpec("y", ("a", "b"), ()))
    pipeline = training.build_pipeline(config)
    x = pd.DataFrame({"a": [1, 2, np.nan, 4], "b": [5, np.nan, 7, 8]})
    numeric = pipeline.named_steps["preprocess"].fit(x).named_transformers_["numeric"]
    imputed = numeric.named_steps["impute"].transform(x)
    # median of 1, 2, 4 is 2; of 5, 7, 8 is 7
    assert imputed[2, 0] == 2.0 and imputed[1, 1] == 7.0
    scaled = numeric.transform(x)
    assert scaled.mean(axis=0) == pytest.approx([0, 0], abs=1e-12)
    assert scaled.std(axis=0) == pytest.approx([1, 1])


def test_pipeline_ignores_unseen_categories_and_blanks(trained, frame):
    row = frame.iloc[[0]].copy()
    row["contract"], row["usage_hours"] = "prepaid", np.nan
    x, _ = training.prepare_features(row, trained.config.features)
    proba = trained.pipeline.predict_proba(x)
    assert proba.shape == (1, 2) and 0 <= proba[0, 1] <= 1


# ---------------------------------------------------------------------------- data checks


@pytest.mark.parametrize("mutate, message", [
    (lambda f: f.iloc[:0], "has no rows"),
    (lambda f: f.drop(columns=["usage_hours"]), "missing column(s): usage_hours"),
    (lambda f: f.drop(columns=["churned"]), "missing column(s): churned"),
    (lambda f: f.assign(leak=1), "unexpected column(s) leak"),
    (lambda f: f.assign(tenure_months=f["tenure_months"].astype(object).where(
        f.index != 3, "12 months")), "column tenure_months should be numeric but has 1 "
                                     "non-numeric value(s), e.g. '12 months' in row 3"),
    (lambda f: f.assign(monthly_charges=f["monthly_charges"].where(f.index != 5, np.inf)),
     "column monthly_charges has infinite values, e.g. in row 5"),
    (lambda f: f.assign(churned=f["churned"].where(~f.index.isin([2, 9]))),
     "target churned has 2 missing label(s), e.g. in row 2"),
])
def test_bad_training_data_is_refused(frame, config, mutate, message):
    with pytest.raises(UserInputError) as info:
        training.train(mutate(frame), config)
    assert message in str(info.value)


def test_categories_become_strings_and_blanks_stay_blank(config):
    spec = training.FeatureSpec("y", ("n",), ("c",))
    frame = pd.DataFrame({"n": ["1", "2.5", None], "c": [1, None, 3], "y": [0, 1, 0]})
    x, y = training.prepare_features(frame, spec)
    assert x["n"].tolist()[:2] == [1.0, 2.5] and np.isnan(x["n"].iloc[2])
    assert x["c"].iloc[0] == "1" and pd.isna(x["c"].iloc[1])
    assert y.tolist() == [0, 1, 0]


def test_one_class_and_too_few_rows_per_class(frame, config):
    with pytest.raises(UserInputError, match="only one class"):
        training.train(frame.assign(churned=1), config)
    tiny = pd.concat([frame[frame.churned == 0].iloc[:20], frame[frame.churned == 1].iloc[:3]])
    with pytest.raises(UserInputError, match="class 1 has 3 row"):
        training.train(tiny, config)


def test_invalid_parameter_values_are_user_errors(frame, config):
    with pytest.raises(UserInputError, match="invalid model parameter"):
        training.train(frame, config.with_model("logistic_regression", C=-1.0))


def test_convergence_warnings_are_recorded(frame, config):
    result = training.train(frame, config.with_model("logistic_regression", max_iter=1))
    assert result.warnings and "lbfgs failed to converge" in result.warnings[0]


# ---------------------------------------------------------------------- training results


def test_cross_validation_matches_sklearn_and_fit_uses_all_rows(trained, frame, config):
    x, y = training.prepare_features(frame, config.features)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    expected = cross_val_score(training.build_pipeline(config), x, y, cv=folds)
    assert trained.cv_scores == pytest.approx(expected.tolist(), abs=0)
    metrics = trained.metrics()
    assert metrics["cv_accuracy_mean"] == pytest.approx(expected.mean(), abs=1e-6)
    assert metrics["cv_accuracy_std"] == pytest.approx(expected.std(), abs=1e-6)
    assert trained.train_accuracy == (trained.pipeline.predict(x) == y).mean()
    # the running example's rule is learnable: about 0.9 (see datasets docstring)
    assert 0.85 <= metrics["cv_accuracy_mean"] <= 0.95


def test_metadata_is_complete_and_json_ready(trained, frame):
    meta = trained.to_dict()
    json.dumps(meta)
    assert meta["model_type"] == "logistic_regression"
    assert meta["params"]["C"] == 1.0 and meta["params"]["random_state"] == 0
    assert meta["classes"] == [0, 1]
    assert meta["features"]["numeric"] == list(datasets.NUMERIC_FEATURES)
    assert meta["training_data"] == training.data_fingerprint(frame)


def test_fingerprint_is_the_sha256_of_the_csv_text_and_survives_a_round_trip(frame, tmp_path):
    fingerprint = training.data_fingerprint(frame)
    text = frame.to_csv(index=False, lineterminator="\n")
    assert fingerprint["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert (fingerprint["rows"], fingerprint["columns"]) == (1000, list(frame.columns))
    path = tmp_path / "data.csv"
    path.write_text(text)
    assert training.data_fingerprint(read_csv(path)) == fingerprint
    changed = frame.copy()
    changed.loc[0, "support_calls"] += 1
    assert training.data_fingerprint(changed)["sha256"] != fingerprint["sha256"]


def test_training_is_reproducible_to_the_byte(frame, config, tmp_path):
    """ML Test Score infra-1: same data and config give the same model file."""
    first = training.train(frame, config.with_model("random_forest", n_estimators=20))
    second = training.train(frame, config.with_model("random_forest", n_estimators=20))
    a = first.save(tmp_path / "a.joblib")
    b = second.save(tmp_path / "b.joblib")
    assert a["sha256"] == b["sha256"]
    assert a["sha256"] == modelstore.sha256_file(tmp_path / "b.joblib")
    other_seed = training.config_from_dict({**config.with_model(
        "random_forest", n_estimators=20).to_dict(), "seed": 1})
    c = training.train(frame, other_seed).save(tmp_path / "c.joblib")
    assert c["sha256"] != a["sha256"]


@pytest.mark.parametrize("model_type", sorted(training.MODEL_TYPES))
def test_every_model_type_trains(frame, config, model_type):
    # Few trees or boosting rounds: the test is about wiring, not about quality.
    params = {"random_forest": {"n_estimators": 10},
              "gradient_boosting": {"max_iter": 10}}.get(model_type, {})
    result = training.train(frame.iloc[:300], config.with_model(model_type, **params))
    assert len(result.cv_scores) == 5 and result.classes == [0, 1]
