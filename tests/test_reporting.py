"""Markdown for PR comments and job summaries, checked against expected text."""

from __future__ import annotations

from mlcicd_course import comparison, reporting
from mlcicd_course.comparison import Comparison, Gate, PairedTest


def side(accuracy: float, f1: float, rate: float, sha: str, slices: list[dict]) -> dict:
    return {
        "kind": "mlcicd-evaluation", "data": {"sha256": "ab" * 32, "rows": 1000},
        "metrics": {"accuracy": accuracy, "precision": 0.8, "recall": 0.75, "f1": f1,
                    "roc_auc": None},
        "prediction_distribution": {"positive_label": 1, "positive_rate_true": 0.4,
                                    "positive_rate_pred": rate},
        "confusion": {"labels": [0, 1], "matrix": [[500, 100], [50, 350]]},
        "slices": slices, "model": {"sha256": sha, "model_type": "logistic_regression"},
    }


BASE = side(0.9, 0.85, 0.42, "1" * 64,
            [{"column": "contract", "value": "one-year", "rows": 300, "accuracy": 0.9,
              "small": False}])
CAND = side(0.85, 0.8, 0.3, "2" * 64,
            [{"column": "contract", "value": "one-year", "rows": 300, "accuracy": 0.8,
              "small": False},
             {"column": "contract", "value": "new", "rows": 3, "accuracy": 1.0, "small": True}])

FAILED_COMMENT = """\
<!-- mlcicd-model-comparison -->
## Model comparison: ❌ FAIL

Accuracy dropped by 0.050 vs the baseline (more than the allowed 0.020).

| metric | baseline | candidate | delta |
| --- | ---: | ---: | ---: |
| accuracy | 0.900 | 0.850 | -0.050 |
| precision | 0.800 | 0.800 | +0.000 |
| recall | 0.750 | 0.750 | +0.000 |
| f1 | 0.850 | 0.800 | -0.050 |
| roc_auc | — | — | — |
| predicted positive rate | 0.420 | 0.300 | -0.120 |

| gate | rule | value | result |
| --- | --- | ---: | --- |
| min_accuracy | candidate accuracy >= 0.800 | 0.850 | pass |
| max_regression | accuracy drop <= 0.020 | 0.050 | **fail** |

**Paired test:** skipped: a metrics file has no per-row predictions; pass both models to \
get McNemar's test.

Test data: 1000 rows, sha256 `abababababab`. Baseline: logistic_regression `111111111111`. \
Candidate: logistic_regression `222222222222`.
"""

SUMMARY_TAIL = """\
### Accuracy per slice

| slice | rows | baseline | candidate | delta |
| --- | ---: | ---: | ---: | ---: |
| contract = one-year | 300 | 0.900 | 0.800 | -0.100 |
| contract = new (small) | 3 | — | 1.000 | — |

### Confusion matrix, baseline

|  | predicted 0 | predicted 1 |
| --- | ---: | ---: |
| true 0 | 500 | 100 |
| true 1 | 50 | 350 |

### Confusion matrix, candidate

|  | predicted 0 | predicted 1 |
| --- | ---: | ---: |
| true 0 | 500 | 100 |
| true 1 | 50 | 350 |
"""


def test_failed_comparison_comment_is_exactly_as_expected():
    result = comparison.compare(BASE, CAND, min_accuracy=0.8)
    assert reporting.comparison_comment(result) == FAILED_COMMENT


def test_the_marker_is_the_first_line_of_the_comment_only():
    result = comparison.compare(BASE, CAND, min_accuracy=0.8)
    assert reporting.comparison_comment(result).splitlines()[0] == reporting.COMPARISON_MARKER
    assert reporting.COMPARISON_MARKER not in reporting.comparison_summary(result)


def test_summary_is_the_comment_plus_slices_and_confusion_matrices():
    result = comparison.compare(BASE, CAND, min_accuracy=0.8)
    summary = reporting.comparison_summary(result)
    body = FAILED_COMMENT.split("\n", 1)[1]
    assert summary == body + "\n" + SUMMARY_TAIL


def test_passing_comment_with_a_paired_test_and_a_warning():
    paired = PairedTest(both_correct=880, baseline_only=12, candidate_only=20, both_wrong=88,
                        statistic=12.0, p_value=0.2153, method="exact binomial", alpha=0.05)
    result = Comparison(
        baseline=BASE, candidate=side(0.908, 0.86, 0.42, "3" * 64, []),
        deltas={"accuracy": 0.008, "precision": 0.0, "recall": -0.00004, "f1": 0.01,
                "roc_auc": None},
        gates=[Gate("max_regression", "accuracy", 0.02, -0.008, True, "accuracy changed by "
                    "+0.008 vs the baseline (within the allowed 0.020)")],
        paired_test=paired, paired_test_note=paired.interpretation(),
        warnings=["the candidate was trained on this very test data: its metrics are "
                  "optimistic"])
    assert reporting.comparison_comment(result) == """\
<!-- mlcicd-model-comparison -->
## Model comparison: ✅ PASS

All gates passed.

| metric | baseline | candidate | delta |
| --- | ---: | ---: | ---: |
| accuracy | 0.900 | 0.908 | +0.008 |
| precision | 0.800 | 0.800 | +0.000 |
| recall | 0.750 | 0.750 | +0.000 |
| f1 | 0.850 | 0.860 | +0.010 |
| roc_auc | — | — | — |
| predicted positive rate | 0.420 | 0.420 | +0.000 |

| gate | rule | value | result |
| --- | --- | ---: | --- |
| max_regression | accuracy drop <= 0.020 | -0.008 | pass |

**Paired test** (McNemar, exact binomial): p = 0.215; no significant difference at alpha \
0.05: the models disagree on 32 rows, split 12 (baseline right) vs 20 (candidate right).

> Warning: the candidate was trained on this very test data: its metrics are optimistic.

Test data: 1000 rows, sha256 `abababababab`. Baseline: logistic_regression `111111111111`. \
Candidate: logistic_regression `333333333333`.
"""


def test_validation_markdown():
    report = {"rows": 20, "columns": ["a", "b"], "checks_run": 9, "failures": [
        {"column": "a", "check": "max", "expected": "<= 5", "found": "2 of 20 values above",
         "examples": [7, 9, 11, 12], "count": 2, "rows": [1, 4]},
        {"column": "(table)", "check": "duplicate_rows", "expected": "<= 0.0% duplicated rows",
         "found": "1 duplicated rows (5.0%)", "examples": [], "count": 1, "rows": [3]},
    ]}
    assert reporting.validation_markdown(report) == """\
<!-- mlcicd-data-validation -->
## Data validation: ❌ 2 failure(s)

20 rows, 2 columns, 9 checks.

| column | check | expected | found | examples |
| --- | --- | --- | --- | --- |
| a | max | <= 5 | 2 of 20 values above | 7, 9, 11 |
| (table) | duplicate_rows | <= 0.0% duplicated rows | 1 duplicated rows (5.0%) | — |
"""
    valid = reporting.validation_markdown({**report, "failures": []})
    assert valid.splitlines()[1] == "## Data validation: ✅ valid"


def test_evaluation_markdown():
    data = {**BASE, "rows": 1000, "slices": [
        {"column": "region", "value": "east", "rows": 250, "accuracy": 0.9,
         "positive_rate_true": 0.4, "positive_rate_pred": 0.38, "small": False}]}
    assert reporting.evaluation_markdown(data) == """\
## Model evaluation

Model logistic_regression `111111111111` on 1000 rows (sha256 `abababababab`).

| metric | value |
| --- | ---: |
| accuracy | 0.900 |
| precision | 0.800 |
| recall | 0.750 |
| f1 | 0.850 |
| roc_auc | — |

Positive label 1: true rate 0.400, predicted rate 0.420.

|  | predicted 0 | predicted 1 |
| --- | ---: | ---: |
| true 0 | 500 | 100 |
| true 1 | 50 | 350 |

| slice | rows | accuracy | true rate | predicted rate |
| --- | ---: | ---: | ---: | ---: |
| region = east | 250 | 0.900 | 0.400 | 0.380 |
"""


def test_formatting_helpers():
    assert reporting.fmt(None) == "—" and reporting.fmt(0.12345) == "0.123"
    assert reporting.fmt_delta(-0.00004) == "+0.000" and reporting.fmt_delta(0.0126) == "+0.013"
    assert reporting.fmt_p(0.0004) == "p < 0.001" and reporting.fmt_p(0.0123) == "p = 0.012"
    table = reporting.markdown_table(["a", "b"], [["x|y", 1]], "lr")
    assert table == "| a | b |\n| --- | ---: |\n| x\\|y | 1 |"
