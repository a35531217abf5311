"""Fixtures of the churn model's test suite: which model, which data, which thresholds.

Choose them with options or environment variables (options win):

    --model PATH        CHURN_MODEL          a model saved by `mlcicd train`
    --data PATH         CHURN_TEST_DATA      labelled test data (CSV)
    --schema PATH       CHURN_SCHEMA         data schema (default: config/schema.yaml)
    --min-accuracy X    CHURN_MIN_ACCURACY   the accuracy the model must reach (0.85)

Without --model, a model is trained from config/model.yaml on a generated month of the
running example (seed 42, 2026-01); without --data, the test data is the generated
month 2026-04. The header of a verbose run names the model and data under test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from mlcicd_course import datasets, evaluation, modelstore, training, validation
from mlcicd_course.fileio import read_csv

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {
    "model": ("CHURN_MODEL", None, "model file saved by `mlcicd train`"),
    "data": ("CHURN_TEST_DATA", None, "labelled test data (CSV)"),
    "schema": ("CHURN_SCHEMA", str(ROOT / "config" / "schema.yaml"), "YAML data schema"),
    "min_accuracy": ("CHURN_MIN_ACCURACY", "0.85", "accuracy the model must reach"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("churn", "churn model under test")
    for name, (env, default, help_text) in OPTIONS.items():
        group.addoption(f"--{name.replace('_', '-')}", dest=f"churn_{name}", default=None,
                        help=f"{help_text} (env {env}; default: {default or 'generated'})")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: retrains models (deselect with -m 'not slow')")


def setting(config: pytest.Config, name: str) -> str | None:
    """An option's value: the command line, then the environment, then the default."""
    env, default, _ = OPTIONS[name]
    return config.getoption(f"churn_{name}") or os.environ.get(env) or default


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"churn model: {setting(config, 'model') or 'trained from config/model.yaml'}",
            f"churn test data: {setting(config, 'data') or 'generated month 2026-04'}"]


@pytest.fixture(scope="session")
def model_path(pytestconfig, tmp_path_factory) -> Path:
    given = setting(pytestconfig, "model")
    if given:
        return Path(given)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    train = datasets.generate_month(datasets.Scenario(), 1)
    training.train(train, training.load_config(ROOT / "config" / "model.yaml")).save(path)
    return path


@pytest.fixture(scope="session")
def model(model_path) -> modelstore.LoadedModel:
    """The model under test, loaded only after its sha256 was verified."""
    return modelstore.load_model(model_path)


@pytest.fixture(scope="session")
def test_data(pytestconfig) -> pd.DataFrame:
    given = setting(pytestconfig, "data")
    if given:
        return read_csv(given, what="test data")
    return datasets.generate_month(datasets.Scenario(), 4)


@pytest.fixture(scope="session")
def schema(pytestconfig) -> validation.Schema:
    return validation.load_schema(setting(pytestconfig, "schema"))


@pytest.fixture(scope="session")
def min_accuracy(pytestconfig) -> float:
    return float(setting(pytestconfig, "min_accuracy"))


@pytest.fixture(scope="session")
def features(model) -> training.FeatureSpec:
    return training.FeatureSpec.from_dict(model.metadata["features"])


@pytest.fixture(scope="session")
def result(model, test_data) -> evaluation.Evaluation:
    """The model evaluated on the test data (metrics, slices, predictions)."""
    return evaluation.evaluate(model, test_data)


@pytest.fixture(scope="session")
def predict_churn(model, features):
    """A function: rows of raw data -> the model's P(churned = 1) per row."""
    positive = list(model.model.classes_).index(1)

    def predict(frame):
        x, _ = training.prepare_features(frame, features, require_target=False)
        return model.model.predict_proba(x)[:, positive]

    return predict
