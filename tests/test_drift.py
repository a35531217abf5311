"""The drift module: statistics against scipy and worked numbers, detect_drift's rules,
false-alarm rates, known shifts, and every edge case (NaN, constants, empty, mismatch)."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlcicd_course import datasets, drift
from mlcicd_course.drift import DriftOptions, detect_drift
from mlcicd_course.errors import UserInputError
from tests.conftest import ROOT

# ------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("n_ref, n_cur", [(80, 120), (15_000, 12_000)])
def test_ks_test_matches_scipy_in_exact_and_asymptotic_regimes(n_ref, n_cur):
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=n_ref), rng.normal(0.1, 1, size=n_cur)
    expected = stats.ks_2samp(ref, cur)
    result = drift.ks_test(ref, cur)
    assert result.test == "ks"
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_test_worked_number_and_missing_values_dropped():
    # F_ref and F_cur differ most between 2 and 3: F_ref = 0.5, F_cur = 0.0 -> D = 0.5.
    result = drift.ks_test([1, 2, 3, 4, np.nan], [3, 4, 5, 6, np.inf])
    assert result.statistic == pytest.approx(0.5)
    assert result.p_value == pytest.approx(stats.ks_2samp([1, 2, 3, 4], [3, 4, 5, 6]).pvalue)
    with pytest.raises(ValueError, match="at least one non-missing value"):
        drift.ks_test([np.nan, np.nan], [1.0])


def test_chi_square_worked_number():
    # 2 x 2 table [[30, 20], [20, 30]]: every expected count is 25, so
    # chi2 = 4 * 5^2 / 25 = 4.0 with 1 degree of freedom, p = 0.0455.
    result = drift.chi_square_test(["a"] * 30 + ["b"] * 20, ["a"] * 20 + ["b"] * 30)
    assert result.statistic == pytest.approx(4.0)
    assert result.dof == 1
    assert result.p_value == pytest.approx(0.0455003, rel=1e-5)
    assert result.p_value == pytest.approx(stats.chi2.sf(4.0, 1))


def test_chi_square_uses_the_union_of_categories():
    ref = ["a"] * 40 + ["b"] * 60
    cur = ["a"] * 30 + ["b"] * 50 + ["c"] * 20  # "c" is new
    result = drift.chi_square_test(ref, cur)
    table = np.array([[40, 60, 0], [30, 50, 20]])
    expected = stats.chi2_contingency(table, correction=False)
    assert result.dof == 2
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert math.isfinite(result.statistic)


def test_chi_square_with_one_category_everywhere_is_no_change():
    assert drift.chi_square_test(["x"] * 5, ["x"] * 9).to_dict() == {
        "test": "chi2", "statistic": 0.0, "p_value": 1.0, "dof": 0}


def test_category_table_counts_the_union_and_drops_missing():
    table = drift.category_table(["a", "b", None, "b"], ["b", "c", np.nan])
    assert table.to_dict("index") == {"a": {"reference": 1, "current": 0},
                                      "b": {"reference": 2, "current": 1},
                                      "c": {"reference": 0, "current": 1}}


def test_wasserstein_normalised_worked_number_and_scipy():
    # A pure shift by 1: W1 = 1; the reference [0, 1, 2, 3] has std sqrt(1.25).
    value = drift.wasserstein_normalised([0, 1, 2, 3], [1, 2, 3, 4])
    assert value == pytest.approx(1 / math.sqrt(1.25))
    assert value == pytest.approx(0.894427, abs=1e-6)
    rng = np.random.default_rng(2)
    ref, cur = rng.gamma(2.0, 3.0, 700), rng.normal(6, 2, 900)
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert drift.wasserstein_normalised(ref, cur) == pytest.approx(expected, rel=1e-10)


def test_wasserstein_normalised_with_constant_sides():
    assert drift.wasserstein_normalised([5, 5, 5], [5, 5]) == 0.0
    # Reference constant: divide by the pooled std instead of 0.
    ref, cur = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0]
    expected = stats.wasserstein_distance(ref, cur) / np.std(ref + cur)
    assert drift.wasserstein_normalised(ref, cur) == pytest.approx(expected)


def test_psi_worked_number():
    # bins=2: the one inner edge is the reference median 2.5. Reference shares
    # [0.5, 0.5], current [0.25, 0.75]:
    # PSI = (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.274653
    value = drift.psi([1, 2, 3, 4], [1, 3, 4, 5], bins=2)
    assert value == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5))
    assert value == pytest.approx(0.274653, abs=1e-6)


def test_psi_empty_bin_uses_epsilon_and_open_outer_edges():
    # Every current value lies above the reference median: shares [0, 1] -> [1e-4, 1].
    value = drift.psi([1, 2, 3, 4], [30, 40, 50, 60], bins=2)
    eps = drift.PSI_EPSILON
    expected = (eps - 0.5) * math.log(eps / 0.5) + (1 - 0.5) * math.log(1 / 0.5)
    assert value == pytest.approx(expected)
    assert value == pytest.approx(4.604, abs=1e-3)
    ref_share, cur_share = drift.binned_proportions([1, 2, 3, 4], [-100, 1000], bins=2)
    assert ref_share.tolist() == [0.5, 0.5] and cur_share.tolist() == [0.5, 0.5]


def test_psi_without_drift_is_about_its_expected_noise_level():
    # With no drift PSI ~ (1/n_ref + 1/n_cur) * (bins - 1) = 0.018 for n = 1000, 10 bins.
    rng = np.random.default_rng(3)
    values = [drift.psi(rng.normal(size=1000), rng.normal(size=1000)) for _ in range(200)]
    assert np.mean(values) == pytest.approx(0.018, rel=0.2)


def test_psi_on_categories_and_quantile_edges_merge_ties():
    assert drift.psi(["a", "b"], ["a", "b"]) == 0.0
    assert drift.quantile_edges([1, 1, 1, 1, 2], bins=4).tolist() == [1.0]
    with pytest.raises(ValueError, match="bins"):
        drift.quantile_edges([1, 2], bins=1)


def test_js_distance_worked_numbers():
    # p = [0.5, 0.5], q = [1, 0], m = [0.75, 0.25]:
    # KL(p||m) = 0.5 log2(0.5/0.75) + 0.5 log2(0.5/0.25) = 0.207519
    # KL(q||m) = log2(1/0.75) = 0.415037; JSD = 0.311278; distance = sqrt = 0.557923
    value = drift.js_distance(["a", "b"], ["a", "a"])
    assert value == pytest.approx(0.557923, abs=1e-6)
    assert drift.js_distance(["a"] * 3, ["b"] * 4) == pytest.approx(1.0)
    assert drift.js_distance(["a", "b"], ["b", "a"]) == 0.0


def test_js_distance_matches_scipy_base_2():
    rng = np.random.default_rng(4)
    ref = rng.choice(list("abcd"), 500, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(list("abcde"), 600, p=[0.2, 0.2, 0.2, 0.2, 0.2])
    table = drift.category_table(ref, cur)
    expected = jensenshannon(table["reference"], table["current"], base=2)
    assert drift.js_distance(ref, cur) == pytest.approx(expected, rel=1e-10)
    numeric_ref, numeric_cur = rng.normal(size=400), rng.normal(0.5, 1, size=400)
    p, q = drift.binned_proportions(numeric_ref, numeric_cur)
    assert drift.js_distance(numeric_ref, numeric_cur) == pytest.approx(
        jensenshannon(p, q, base=2), rel=1e-10)


def test_bonferroni_and_benjamini_hochberg_worked_numbers():
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    assert drift.bonferroni(p) == pytest.approx([0.05, 0.10, 0.15, 0.20, 0.25])
    # m * p_(i) / i = 0.05 for every i, so every adjusted p is 0.05.
    assert drift.benjamini_hochberg(p) == pytest.approx([0.05] * 5)
    assert drift.bonferroni([0.5, 0.9]).tolist() == [1.0, 1.0]
    # Sorted 0.001, 0.03, 0.04 -> 3p/i = 0.003, 0.045, 0.04 -> running min from the
    # right 0.003, 0.04, 0.04; returned in the input order.
    assert drift.benjamini_hochberg([0.04, 0.001, 0.03]) == pytest.approx([0.04, 0.003, 0.04])
    assert drift.benjamini_hochberg([]).size == 0


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(5).uniform(0, 0.2, 40)
    assert drift.benjamini_hochberg(p) == pytest.approx(
        stats.false_discovery_control(p, method="bh"), rel=1e-12)


@pytest.mark.parametrize("bad", [[0.1, np.nan], [1.5], [-0.1]])
def test_corrections_reject_values_that_are_not_p_values(bad):
    with pytest.raises(ValueError, match="between 0 and 1"):
        drift.bonferroni(bad)
    with pytest.raises(ValueError, match="unknown correction"):
        drift.adjust_p_values([0.1], "holm")


# ----------------------------------------------------------------------- detect_drift


def normal_frame(n: int, seed: int, columns: int = 10, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(shift, 1, (n, columns)),
                        columns=[f"x{i}" for i in range(columns)])


def test_known_covariate_shift_is_caught_on_the_running_example():
    reference = datasets.sample(1000, seed=1)
    current = datasets.sample(1000, seed=2, covariate=1.0)
    report = detect_drift(reference, current, ignore=(datasets.TARGET,))
    assert report.dataset_drift and report.verdict == "drift"
    assert report.drifted == ["monthly_charges", "usage_hours"]
    row = report.feature("monthly_charges")
    assert row.test == "ks" and row.decided_by == "test"
    assert row.effect_name == "wasserstein/std" and row.effect > 0.9  # about +20 EUR / 20 EUR
    assert "distribution changed" in row.reason


def test_no_drift_on_the_running_example():
    report = detect_drift(datasets.sample(1000, seed=1), datasets.sample(1000, seed=2))
    assert report.verdict == "no drift" and report.drifted == [] and report.skipped == []
    assert {f.kind for f in report.features} == {"numeric", "categorical"}
    assert report.feature("churned").kind == "categorical"  # 0/1: few distinct values


@pytest.mark.slow
def test_false_alarm_rate_without_drift_stays_near_alpha_with_corrections():
    # 300 seeded batches of 10 independent columns, no drift at all. The verdict uses
    # Bonferroni; the same reports' raw p-values give the BH and uncorrected rules.
    alarms = {"bonferroni": 0, "bh": 0, "none": 0}
    batches = 300
    for seed in range(batches):
        report = detect_drift(normal_frame(200, 2 * seed), normal_frame(200, 2 * seed + 1))
        raw = [f.p_value for f in report.features]
        assert report.dataset_drift == bool((drift.bonferroni(raw) < 0.05).any())
        alarms["bonferroni"] += report.dataset_drift
        alarms["bh"] += bool((drift.benjamini_hochberg(raw) < 0.05).any())
        alarms["none"] += bool((np.array(raw) < 0.05).any())
    rates = {k: v / batches for k, v in alarms.items()}
    assert 0.01 <= rates["bonferroni"] <= 0.09  # alpha = 0.05, binomial sd 0.013
    assert 0.01 <= rates["bh"] <= 0.09
    assert rates["none"] > 0.3  # any p < 0.05 out of 10: 1 - 0.95^10 = 0.40


def test_textbook_share_rule_rarely_fires_and_states_itself():
    options = DriftOptions.textbook_rule()
    fired = sum(detect_drift(normal_frame(200, 2 * s), normal_frame(200, 2 * s + 1),
                             options).dataset_drift for s in range(100))
    assert fired <= 2
    assert "more than 30% of the tested columns" in options.describe()
    shifted = normal_frame(200, 7, shift=1.0)
    report = detect_drift(normal_frame(200, 8), shifted, options)
    assert report.dataset_drift and len(report.drifted) == 10


def test_large_samples_decide_by_effect_size_not_p_value():
    # A 0.05 sd shift at n = 100,000: tiny effect, yet p is astronomically small.
    reference = normal_frame(100_000, 10, columns=2)
    current = normal_frame(100_000, 11, columns=2, shift=0.05)
    report = detect_drift(reference, current)
    for row in report.features:
        assert row.p_adjusted < 1e-10
        assert row.effect < 0.1
        assert row.decided_by == "effect" and row.status == "ok"
    assert report.verdict == "no drift"
    by_test = detect_drift(reference, current, method="test")
    assert by_test.drifted == ["x0", "x1"]
    both = detect_drift(reference, current, method="both")
    assert both.drifted == []
    big = detect_drift(reference, normal_frame(100_000, 12, columns=2, shift=0.5))
    assert big.drifted == ["x0", "x1"]


@pytest.mark.parametrize("n_ref, n_cur, discrete", [
    (600, 500, False), (12_000, 15_000, False), (12_000, 15_000, True)])
def test_detect_drift_reports_scipys_ks_and_wasserstein(n_ref, n_cur, discrete):
    # detect_drift computes D and W1 from one merge of the sorted samples and the
    # asymptotic p-value itself above 10,000 rows: the numbers must equal scipy's.
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(0, 1, n_ref), rng.normal(0.03, 1, n_cur)
    if discrete:  # ties: KS is evaluated at the end of each group of equal values
        ref, cur = np.round(ref * 3), np.round(cur * 3)
    row = detect_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).features[0]
    expected = stats.ks_2samp(ref, cur)
    assert row.kind == "numeric" and row.test == "ks"
    assert row.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert row.effect == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref),
                                       rel=1e-9)


def test_auto_switches_at_large_n_using_the_smaller_side():
    reference, current = normal_frame(1500, 1, 1), normal_frame(1000, 2, 1)
    assert detect_drift(reference, current).features[0].decided_by == "test"
    assert detect_drift(reference, current, large_n=999).features[0].decided_by == "effect"


def test_psi_as_numeric_effect():
    reference, current = normal_frame(5000, 1, 1), normal_frame(5000, 2, 1, shift=1.0)
    report = detect_drift(reference, current, numeric_effect="psi")
    row = report.features[0]
    assert row.effect_name == "psi" and row.threshold == 0.2
    assert row.effect == pytest.approx(drift.psi(reference["x0"], current["x0"]))
    assert row.status == "drift"


def test_reported_adjusted_p_values_are_the_corrections_of_the_raw_ones():
    reference = datasets.sample(800, seed=3)
    current = datasets.sample(800, seed=4, covariate=0.3)
    for correction, fn in (("bonferroni", drift.bonferroni), ("bh", drift.benjamini_hochberg)):
        report = detect_drift(reference, current, correction=correction)
        raw = [f.p_value for f in report.features]
        assert [f.p_adjusted for f in report.features] == pytest.approx(list(fn(raw)))


def test_nan_values_are_counted_as_missing_not_dropped_silently():
    reference = datasets.sample(1000, seed=5)
    current = datasets.sample(1000, seed=6, missing_rate=0.3)
    current.loc[:9, "monthly_charges"] = np.inf  # non-finite counts as missing too
    report = detect_drift(reference, current)
    usage = report.feature("usage_hours")
    assert usage.missing_reference == 0.0
    assert usage.missing_current == pytest.approx(current["usage_hours"].isna().mean())
    assert usage.n_current == current["usage_hours"].notna().sum()
    assert usage.status == "drift" and "missing rate moved 0.0% ->" in usage.reason
    charges = report.feature("monthly_charges")
    assert charges.missing_current == pytest.approx(0.01) and charges.n_current == 990
    assert charges.status == "ok"  # 1 point is within the 5-point tolerance


def test_all_missing_column_is_drift_with_a_reason_not_a_crash():
    reference = datasets.sample(500, seed=1)
    current = datasets.sample(500, seed=2)
    current["usage_hours"] = np.nan
    row = detect_drift(reference, current).feature("usage_hours")
    assert row.status == "drift" and row.p_value is None and row.effect is None
    assert "100.0%" in row.reason and "too few non-missing values" in row.reason


def test_constant_columns_give_a_clear_status():
    reference = pd.DataFrame({"same": [1.0] * 100, "flag": ["y"] * 100, "moves": [3.0] * 100})
    current = pd.DataFrame({"same": [1.0] * 100, "flag": ["y"] * 100,
                            "moves": [3.0] * 50 + [4.0] * 50})
    report = detect_drift(reference, current)
    same = report.feature("same")
    assert same.status == "ok" and same.p_value == 1.0 and same.effect == 0.0
    assert "one value on both sides" in same.notes
    assert report.feature("flag").status == "ok"
    moves = report.feature("moves")
    assert moves.status == "drift" and moves.kind == "categorical"
    assert report.verdict == "drift"


def test_constant_reference_against_a_continuous_current_column():
    reference = pd.DataFrame({"x": [0.0] * 200})
    current = pd.DataFrame({"x": np.linspace(-1, 1, 200)})
    row = detect_drift(reference, current).features[0]
    assert row.kind == "numeric" and row.status == "drift"
    assert math.isfinite(row.effect) and math.isfinite(row.statistic)


def test_empty_batch_is_inconclusive_with_reasons():
    reference = datasets.sample(300, seed=1)
    report = detect_drift(reference, reference.iloc[:0])
    assert report.verdict == "inconclusive" and not report.dataset_drift
    assert report.skipped == list(reference.columns)
    assert all("0 in the current data" in f.reason for f in report.features)
    assert report.feature("contract").missing_current is None
    # A header-only CSV gives object columns; the type comes from the other side.
    header_only = pd.DataFrame({c: pd.Series([], dtype=object) for c in reference.columns})
    assert detect_drift(reference, header_only).verdict == "inconclusive"


def test_too_small_samples_are_skipped():
    report = detect_drift(normal_frame(100, 1, 2), normal_frame(30, 2, 2))
    assert report.verdict == "inconclusive"
    assert report.features[0].reason == (
        "too few non-missing values to test (30 in the current data, need 50)")
    assert detect_drift(normal_frame(100, 1, 2), normal_frame(30, 2, 2), min_n=20).verdict \
        == "no drift"


def test_categories_on_one_side_only_are_reported_and_new_ones_can_drift():
    reference = pd.DataFrame({"plan": ["a"] * 498 + ["b"] * 500 + ["old"] * 2})
    current = pd.DataFrame({"plan": ["a"] * 497 + ["b"] * 500 + ["new"] * 3})
    row = detect_drift(reference, current).features[0]
    assert "only in the current data: new (3)" in row.notes
    assert "only in the reference data: old (2)" in row.notes
    assert row.p_adjusted > 0.05
    assert row.status == "ok"  # new categories are 0.3% of rows, not more than 1%
    current.loc[:11, "plan"] = "new"
    row = detect_drift(reference, current).features[0]
    assert row.status == "drift" and "make up 1.5% of the current values" in row.reason


def test_faulty_batch_of_the_running_example():
    reference = datasets.sample(1000, seed=1)
    faulty = datasets.inject_faults(datasets.sample(1000, seed=2),
                                    ("unseen_category", "wrong_dtype", "missing_burst"), seed=3)
    report = detect_drift(reference, faulty)
    tenure = report.feature("tenure_months")
    assert tenure.status == "skipped" and tenure.reason.startswith("type mismatch")
    assert "months'" in tenure.reason  # shows an offending value
    assert report.feature("monthly_charges").status == "drift"  # 40% blank
    assert any(n.startswith("only in the current data: prepaid") for n in
               report.feature("contract").notes)
    assert report.verdict == "drift" and "1 skipped (tenure_months)" in report.summary


def test_mismatched_columns_are_skipped_or_rejected_clearly():
    reference = pd.DataFrame({"a": np.arange(100.0), "b": np.arange(100.0)})
    current = pd.DataFrame({"a": np.arange(100.0), "c": np.arange(100.0)})
    report = detect_drift(reference, current)
    assert [f.feature for f in report.features] == ["a", "b", "c"]
    assert report.feature("b").reason == "column missing from the current data"
    assert report.feature("c").reason == "column missing from the reference data"
    with pytest.raises(UserInputError, match="column 'b' is not in the current data"):
        detect_drift(reference, current, columns=("a", "b"))
    with pytest.raises(UserInputError, match="no column in common"):
        detect_drift(reference[["b"]], current[["c"]])
    with pytest.raises(UserInputError, match="'zz'"):
        detect_drift(reference, current, ignore=("zz",))
    assert [f.feature for f in detect_drift(reference, current, ignore="c").features] == ["a", "b"]


def test_columns_option_and_forced_categorical():
    reference = pd.DataFrame({"code": np.tile(np.arange(10), 20), "x": np.arange(200.0)})
    current = reference.copy()
    report = detect_drift(reference, current, columns=["code"], categorical=["code"])
    assert [f.feature for f in report.features] == ["code"]
    assert report.features[0].kind == "categorical" and report.features[0].test == "chi2"


def test_too_many_categories_are_skipped():
    reference = pd.DataFrame({"id": [f"u{i}" for i in range(200)]})
    current = pd.DataFrame({"id": [f"v{i}" for i in range(200)]})
    row = detect_drift(reference, current).features[0]
    assert row.status == "skipped"
    assert "too many categories for a category test (400 > 50)" in row.reason


@pytest.mark.parametrize("bad, message", [
    ({"alpha": 1.5}, "alpha"),
    ({"correction": "holm"}, "unknown correction"),
    ({"method": "magic"}, "unknown method"),
    ({"numeric_effect": "kl"}, "unknown numeric effect"),
    ({"min_n": 1}, "min_n"),
    ({"drift_share": 1.0}, "drift_share"),
    ({"js_threshold": 0}, "thresholds must be positive"),
])
def test_bad_options_are_user_errors(bad, message):
    with pytest.raises(UserInputError, match=message):
        DriftOptions(**bad)


def test_bad_frames_are_user_errors():
    frame = normal_frame(60, 1, 2)
    with pytest.raises(UserInputError, match="must be a pandas DataFrame"):
        detect_drift(frame.to_numpy(), frame)
    twice = pd.concat([frame, frame], axis=1)
    with pytest.raises(UserInputError, match="duplicate column names: x0, x1"):
        detect_drift(frame, twice)


# --------------------------------------------------------------------------- report


def test_report_outputs_are_complete_and_never_nan():
    reference = datasets.sample(600, seed=1)
    current = datasets.inject_faults(datasets.sample(600, seed=2, covariate=1.0),
                                     ("wrong_dtype",), seed=1)
    report = detect_drift(reference, current)
    data = json.loads(report.to_json())
    json.dumps(data, allow_nan=False)  # raises if any NaN slipped through
    assert data["verdict"] == "drift" and data["dataset_drift"] is True
    assert data["rule"] == report.rule and data["options"]["alpha"] == 0.05
    assert {row["status"] for row in data["features"]} == {"ok", "drift", "skipped"}
    frame = report.to_frame()
    assert list(frame["feature"]) == list(reference.columns)
    assert {"feature", "kind", "test", "statistic", "p_value", "p_adjusted", "effect",
            "n_reference", "n_current", "missing_reference", "missing_current", "status",
            "reason"} <= set(frame.columns)
    assert frame.loc[frame["feature"] == "tenure_months", "p_value"].isna().all()
    markdown = report.to_markdown()
    assert markdown.startswith("## Data drift report")
    assert "| `monthly_charges` | numeric | ks |" in markdown and "**drift**" in markdown
    assert "- `tenure_months`: type mismatch" in markdown
    table = drift.drift_table(report)
    assert table.loc["tenure_months", "status"] == "skipped"
    assert table.loc["tenure_months", "p"] == "-"


def test_report_is_deterministic_and_states_its_rule():
    reference, current = datasets.sample(500, seed=1), datasets.sample(500, seed=2)
    first = detect_drift(reference, current).to_json()
    assert first == detect_drift(reference, current).to_json()
    rule = DriftOptions().describe()
    assert "Bonferroni-adjusted p < 0.05" in rule and "n <= 1000" in rule
    assert "any tested column drifts" in rule and "fewer than 50" in rule


# ------------------------------------------------------- odd names, odd scales, schema changes


def test_integer_column_names_are_compared_not_skipped():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(rng.normal(size=(300, 3)))
    current = pd.DataFrame(rng.normal(size=(300, 3)))
    current[1] += 1.0
    report = detect_drift(reference, current)
    assert [f.feature for f in report.features] == ["0", "1", "2"]
    assert report.skipped == [] and report.drifted == ["1"]


def test_names_equal_as_text_are_duplicates():
    frame = pd.DataFrame([[1.0, 2.0]] * 60, columns=[1, "1"])
    with pytest.raises(UserInputError, match="current has duplicate column names: 1$"):
        detect_drift(frame.rename(columns={1: "a"}), frame)


@pytest.mark.parametrize("magnitude", [1e200, 1e-300, 1e-310])
def test_effect_sizes_do_not_depend_on_the_magnitude_of_the_values(magnitude):
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=1500)})
    current = pd.DataFrame({"x": rng.normal(0.5, 1, size=1500)})
    plain = detect_drift(reference, current).feature("x")
    scaled = detect_drift(reference * magnitude, current * magnitude).feature("x")
    assert plain.status == scaled.status == "drift" and plain.decided_by == "effect"
    assert scaled.effect == pytest.approx(plain.effect, rel=1e-6)
    assert scaled.statistic == pytest.approx(plain.statistic)
    assert drift.wasserstein_normalised(reference["x"] * magnitude,
                                        current["x"] * magnitude) == pytest.approx(plain.effect,
                                                                                   rel=1e-6)


def test_a_schema_change_is_never_no_drift():
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200),
                              "c": rng.normal(size=200)})
    current = reference.assign(c=["n/a"] * 200).drop(columns="b")
    report = detect_drift(reference, current)
    assert report.drifted == [] and not report.dataset_drift
    assert report.verdict == "schema change" and report.schema_changes == ("b", "c")
    assert report.summary.endswith("; schema changed: b, c")
    assert report.to_dict()["schema_changes"] == ["b", "c"]
    shifted = current.assign(a=current["a"] + 2)
    assert detect_drift(reference, shifted).verdict == "drift"
    assert detect_drift(reference, reference).schema_changes == ()


def test_the_benchmark_reads_evidentlys_p_values_and_distances_each_their_way():
    spec = importlib.util.spec_from_file_location("drift_bench", ROOT / "bench" / "drift_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.evidently_flags("K-S p_value", 0.001, 0.05)
    assert not bench.evidently_flags("chi-square p_value", 0.6, 0.05)
    assert bench.evidently_flags("Wasserstein distance (normed)", 0.3, 0.1)
    assert not bench.evidently_flags("Jensen-Shannon distance", 0.02, 0.1)
