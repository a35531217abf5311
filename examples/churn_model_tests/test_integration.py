"""Integration: the saved pipeline end to end, and a reproducible training recipe."""

from __future__ import annotations

import numpy as np
import pytest

from mlcicd_course import datasets, modelstore, training


def test_the_model_file_is_the_one_its_metadata_describes(model, model_path):
    assert modelstore.sha256_file(model_path) == model.sha256
    for key in ("config", "features", "training_data", "metrics", "libraries"):
        assert key in model.metadata, f"metadata has no {key!r}"


def test_raw_rows_with_blanks_and_unseen_values_get_predictions(test_data, model, features):
    rows = test_data.head(20).copy()
    rows.loc[rows.index[:5], "usage_hours"] = np.nan
    rows.loc[rows.index[5:10], "contract"] = "prepaid"
    x, _ = training.prepare_features(rows, features)
    proba = model.model.predict_proba(x)
    assert proba.shape == (20, 2)
    assert np.all((proba >= 0) & (proba <= 1)) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.model.predict(x)) <= set(model.metadata["classes"])


@pytest.mark.slow
def test_the_recipe_retrains_to_the_same_bytes(model, tmp_path):
    """ML Test Score infra-1: the same config and data give the same model file."""
    config = training.config_from_dict(model.metadata["config"])
    train = datasets.generate_month(datasets.Scenario(seed=7), 1)
    first = training.train(train, config).save(tmp_path / "a.joblib")
    second = training.train(train, config).save(tmp_path / "b.joblib")
    assert first["sha256"] == second["sha256"]
