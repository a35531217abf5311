"""The shipped example suite passes on a good model and fails on broken ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlcicd_course import datasets, training
from tests.conftest import ROOT

SUITE = ROOT / "examples" / "churn_model_tests"
pytestmark = pytest.mark.slow  # each test runs the suite in a fresh pytest process


def run_suite(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-q", "-p", "no:cacheprovider",
         "-m", "not slow", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})})


def failed(result: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"^FAILED \S+?::(\S+)", result.stdout, flags=re.M))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("suite")
    scenario = datasets.Scenario()
    train = datasets.generate_month(scenario, 1)
    test = datasets.generate_month(scenario, 4)
    config = training.default_config()
    shuffled = train.assign(churned=np.random.default_rng(1).permutation(train["churned"]))
    paths = {"good": folder / "good.joblib", "shuffled": folder / "shuffled.joblib",
             "test": folder / "test.csv", "faulty": folder / "faulty.csv"}
    training.train(train, config).save(paths["good"])
    training.train(shuffled, config).save(paths["shuffled"])
    test.to_csv(paths["test"], index=False)
    datasets.inject_faults(test, ("unseen_category", "missing_burst"), seed=1).to_csv(
        paths["faulty"], index=False)
    return paths


def test_passes_on_a_good_model(files):
    result = run_suite("--model", files["good"], "--data", files["test"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"^\d+ passed, 1 deselected", result.stdout, flags=re.M), result.stdout


def test_fails_on_a_model_trained_on_shuffled_labels(files):
    result = run_suite(env={"CHURN_MODEL": str(files["shuffled"]),
                            "CHURN_TEST_DATA": str(files["test"])})
    assert result.returncode == 1
    names = failed(result)
    assert {"test_minimum_accuracy", "test_beats_predicting_the_majority_class",
            "test_accuracy_on_every_slice"} <= names
    assert not any(name.startswith("test_test_data") for name in names)


def test_fails_on_a_faulty_data_batch(files):
    result = run_suite("--model", files["good"], "--data", files["faulty"])
    assert result.returncode == 1
    assert "test_test_data_matches_the_schema" in failed(result)
    assert "monthly_charges: max_missing_rate" in result.stdout


def test_fails_when_the_model_file_was_tampered_with(files, tmp_path):
    tampered = tmp_path / "good.joblib"
    tampered.write_bytes(files["good"].read_bytes() + b"\0")
    meta = Path(str(files["good"]) + ".meta.json")
    (tmp_path / meta.name).write_bytes(meta.read_bytes())
    result = run_suite("--model", tampered, "--data", files["test"])
    assert result.returncode == 1
    assert "refusing to unpickle" in result.stdout


def test_a_higher_bar_fails_the_accuracy_test_only(files):
    result = run_suite("--model", files["good"], "--data", files["test"],
                       "--min-accuracy", "0.99", "-k", "test_model")
    assert result.returncode == 1 and failed(result) == {"test_minimum_accuracy"}
