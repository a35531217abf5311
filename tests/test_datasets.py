"""The running example: deterministic, documented rule, every drift knob and fault works."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlcicd_course import datasets
from mlcicd_course.errors import UserInputError


def test_same_seed_same_rows_and_different_seed_different_rows():
    a = datasets.sample(500, seed=7)
    b = datasets.sample(500, seed=7)
    c = datasets.sample(500, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_columns_types_and_ranges():
    frame = datasets.sample(2000, seed=1)
    assert list(frame.columns) == [*datasets.FEATURES, datasets.TARGET]
    assert frame["tenure_months"].between(1, 72).all()
    assert frame["monthly_charges"].between(18, 150).all()
    assert frame["support_calls"].between(0, 15).all()
    assert set(frame["contract"]) == set(datasets.CONTRACTS)
    assert set(frame["region"]) == set(datasets.REGIONS)
    assert set(frame[datasets.TARGET]) == {0, 1}
    assert frame.notna().all().all()


def test_labels_follow_the_documented_rule_plus_noise():
    frame = datasets.sample(20_000, seed=2)
    probability = datasets.churn_probability(frame)
    # The rule explains the labels well, but not perfectly (noise).
    agreement = np.mean((probability > 0.5) == frame[datasets.TARGET])
    assert 0.88 < agreement < 0.96
    # Observed churn rate matches the mean probability within sampling error.
    assert abs(frame[datasets.TARGET].mean() - probability.mean()) < 0.015
    # A worked row: month-to-month, 5 calls, 1 month tenure -> very likely to churn.
    row = pd.DataFrame([{"tenure_months": 1, "monthly_charges": 70.0, "support_calls": 5,
                         "usage_hours": 40.0, "contract": "month-to-month", "region": "east"}])
    # score = 0.9*5 - 0.08*1 + 0 + 0 + 1.0 - 0.3 = 5.12
    assert datasets.risk_score(row)[0] == pytest.approx(5.12)


def test_covariate_drift_raises_prices_but_keeps_the_rule():
    before = datasets.sample(5000, seed=3)
    after = datasets.sample(5000, seed=3, covariate=1.0)
    assert after["monthly_charges"].mean() - before["monthly_charges"].mean() > 15
    agreement = np.mean((datasets.churn_probability(after) > 0.5) == after[datasets.TARGET])
    assert agreement > 0.88


def test_concept_drift_changes_the_rule():
    after = datasets.sample(5000, seed=4, concept=1.0)
    old_rule = np.mean((datasets.churn_probability(after, 0.0) > 0.5) == after[datasets.TARGET])
    new_rule = np.mean((datasets.churn_probability(after, 1.0) > 0.5) == after[datasets.TARGET])
    assert new_rule > 0.9
    assert old_rule < new_rule - 0.1


@pytest.mark.parametrize("rate", [0.1, 0.6])
def test_label_prior_shift_reaches_the_target_rate(rate):
    frame = datasets.sample(1000, seed=5, churn_rate=rate)
    assert len(frame) == 1000
    assert frame[datasets.TARGET].mean() == pytest.approx(rate, abs=0.001)


def test_missing_rate_blanks_usage_hours():
    frame = datasets.sample(4000, seed=6, missing_rate=0.2)
    assert frame["usage_hours"].isna().mean() == pytest.approx(0.2, abs=0.02)
    assert frame.drop(columns="usage_hours").notna().all().all()


def test_each_fault_is_present_in_the_faulty_month():
    scenario = datasets.Scenario(months=2, rows_per_month=500, faults=datasets.FAULTS)
    clean, faulty = datasets.generate(scenario).values()
    assert len(clean) == 500 and clean["contract"].isin(datasets.CONTRACTS).all()
    tenure = pd.to_numeric(faulty["tenure_months"], errors="coerce")
    assert (tenure < 0).any()
    assert (faulty["monthly_charges"] == 9999).any()
    assert faulty.duplicated().any()
    assert "prepaid" in set(faulty["contract"]) and "central" in set(faulty["region"])
    assert faulty["tenure_months"].astype(str).str.endswith(" months").any()
    assert faulty["monthly_charges"].isna().mean() > 0.3


def test_drift_ramps_from_the_drift_start_month():
    scenario = datasets.Scenario(months=6, drift_start=4)
    assert [scenario.level(m) for m in range(1, 7)] == [0, 0, 0, 1 / 3, 2 / 3, 1]
    assert scenario.label(1) == "2026-01" and scenario.label(13 - 0) == "2027-01"


def test_write_dataset_is_byte_identical_and_has_a_data_card(tmp_path):
    scenario = datasets.Scenario(months=3, rows_per_month=300, concept_drift=1.0,
                                 faults=("duplicates",))
    first = datasets.write_dataset(scenario, tmp_path / "a")
    second = datasets.write_dataset(scenario, tmp_path / "b")
    assert [p.name for p in first] == ["2026-01.csv", "2026-02.csv", "2026-03.csv",
                                       "data_card.json"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    card = json.loads((tmp_path / "a" / "data_card.json").read_text())
    assert card["settings"]["seed"] == 42 and card["settings"]["concept_drift"] == 1.0
    assert card["target"] == "churned" and "support_calls" in card["rule_before_drift"]
    assert [b["rows"] for b in card["batches"]] == [300, 300, 306]
    loaded = datasets.read_dataset(tmp_path / "a")
    assert list(loaded) == ["2026-01", "2026-02", "2026-03"]
    assert round(loaded["2026-01"]["churned"].mean(), 4) == card["batches"][0]["churn_rate"]


@pytest.mark.parametrize("settings, message", [
    ({"months": 0}, "months must be at least 1"),
    ({"faults": ("nope",)}, "unknown fault"),
    ({"concept_drift": 2.0}, "concept drift"),
    ({"covariate_drift": float("nan")}, "covariate drift must be a finite number, got nan"),
    ({"covariate_drift": float("inf")}, "covariate drift must be a finite number, got inf"),
    ({"start": "January"}, "start month"),
    ({"months": 3, "fault_months": (5,)}, "outside 1..3"),
])
def test_bad_settings_are_user_errors(settings, message):
    with pytest.raises(UserInputError, match=message):
        datasets.Scenario(**settings)


def test_read_dataset_without_a_card_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="no data_card.json"):
        datasets.read_dataset(tmp_path)


def test_cli_generate_twice_gives_identical_files(run_cli, tmp_path):
    args = ["data", "generate", "--seed", "3", "--months", "3", "--rows", "200",
            "--covariate-drift", "1", "--faults", "out_of_range,unseen_category"]
    assert run_cli(*args, "--out", "one").returncode == 0
    result = run_cli(*args, "--out", "two")
    assert result.returncode == 0 and "wrote 3 monthly batches" in result.stdout
    for path in sorted((tmp_path / "one").iterdir()):
        assert path.read_bytes() == (tmp_path / "two" / path.name).read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--out", "x", "--months", "-1"], "months must be at least 1"),
    (["--out", "x", "--seed", "abc"], "invalid int value"),
    (["--out", "x", "--faults", "gremlins"], "unknown fault 'gremlins'"),
    (["--out", "x", "--churn-rate", "1.5"], "churn rate must be strictly between 0 and 1"),
    (["--out", "x", "--fault-months", "two"], "--fault-months expects whole numbers"),
    ([], "the following arguments are required: --out"),
])
def test_cli_bad_arguments_exit_2_with_one_line(run_cli, tmp_path, args, message):
    result = run_cli("data", "generate", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_cli_refuses_a_file_as_output_folder(run_cli, tmp_path):
    (tmp_path / "taken").write_text("keep me")
    result = run_cli("data", "generate", "--out", "taken", "--months", "1")
    assert result.returncode == 2 and "not a folder" in result.stderr
    assert (tmp_path / "taken").read_text() == "keep me"


def test_each_fault_hits_the_share_of_rows_its_docstring_states():
    clean = datasets.sample(1000, seed=[3, 1])
    for fault in ("out_of_range", "unseen_category", "wrong_dtype"):
        faulty = datasets.inject_faults(clean, (fault,), seed=4)
        changed = (faulty.astype(str) != clean.astype(str)).any(axis=1).sum()
        assert changed == 20, fault  # n // 50 of 1000 rows: 2%
    assert len(datasets.inject_faults(clean, ("duplicates",), seed=4)) == 1020
    blank = datasets.inject_faults(clean, ("missing_burst",), seed=4)["monthly_charges"]
    assert 0.35 < blank.isna().mean() < 0.45  # a burst: about 40%, not 2%
