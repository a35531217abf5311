"""Shadow analysis and the promotion rule, on hand-made logs (no servers)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from mlcicd_course.errors import UserInputError
from mlcicd_course.shadow.analysis import (
    accuracy,
    agreement_by_segment,
    analyze,
    requests_frame,
    rows_frame,
    wilson_interval,
)
from mlcicd_course.shadow.log import Answer, ShadowRecord
from mlcicd_course.shadow.promotion import HOLD, PROCEED, PromotionPolicy, decide


def record(i: int, primary: list[int], shadow: list[int] | None, *, contract: str = "monthly",
           shadow_status: int = 200, error: str | None = None, shadow_ms: float = 5.0,
           primary_status: int = 200, scores: tuple[float, float] = (0.3, 0.3),
           ) -> ShadowRecord:
    inputs = [{"contract": contract, "region": "north", "tenure_months": 3}
              for _ in primary]
    probs = [[[1 - s, s] for _ in primary] for s in scores]
    return ShadowRecord(
        f"r{i}", 1000.0 + i, "/predict", inputs,
        Answer("blue", primary_status, 2.0, primary, probs[0]),
        Answer("green", shadow_status, shadow_ms, shadow, None if shadow is None else probs[1]),
        error)


def log(agree: int, disagree: int, **options) -> list[ShadowRecord]:
    """`agree` requests where both say 0, then `disagree` where the shadow says 1."""
    return ([record(i, [0], [0], **options) for i in range(agree)]
            + [record(agree + i, [0], [1], **options) for i in range(disagree)])


def test_wilson_interval_is_where_the_score_test_stops_rejecting():
    k, n, z = 37, 50, stats.norm.ppf(0.975)

    def score(p: float) -> float:
        return abs(k / n - p) - z * math.sqrt(p * (1 - p) / n)

    low = optimize.brentq(score, 1e-9, k / n)
    high = optimize.brentq(score, k / n, 1 - 1e-9)
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=1e-9)


@pytest.mark.parametrize(("k", "n"), [(37, 50), (1, 9), (480, 500), (0, 7), (20, 20)])
def test_wilson_interval_matches_statsmodels(k, n):
    from statsmodels.stats.proportion import proportion_confint

    assert wilson_interval(k, n) == pytest.approx(
        proportion_confint(k, n, alpha=0.05, method="wilson"), abs=1e-9)


@pytest.mark.parametrize(("k", "n"), [(0, 7), (10, 10), (0, 20), (20, 20)])
def test_wilson_interval_is_not_empty_at_the_extremes(k, n):
    low, high = wilson_interval(k, n)
    assert 0 <= low < high <= 1 and high - low > 0.1
    assert (low == 0) == (k == 0) and (high == 1) == (k == n)


def test_wilson_interval_rejects_impossible_counts_and_knows_nothing_at_n_0():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_agreement_counts_rows_not_requests_and_splits_by_segment():
    records = ([record(i, [0, 1], [0, 1], contract="monthly") for i in range(10)]
               + [record(10 + i, [0, 1], [1, 0], contract="two_year") for i in range(5)])
    frame = rows_frame(records)
    assert len(frame) == 30
    report = analyze(records, segments=["contract"])
    assert (report.agreement.rows, report.agreement.agreed) == (30, 20)
    parts = {a.segment: (a.rows, a.agreed) for a in agreement_by_segment(frame, "contract")}
    assert parts == {"contract=monthly": (20, 20), "contract=two_year": (10, 0)}


def test_an_unknown_segment_column_is_a_user_error_naming_the_columns():
    with pytest.raises(UserInputError, match="'plan' is not in the logged inputs.*contract"):
        analyze(log(3, 0), segments=["plan"])


def test_the_default_segments_are_the_running_examples_categorical_columns():
    assert sorted(analyze(log(3, 1)).segments) == ["contract", "region"]


def test_probability_shift_compares_the_positive_class_scores():
    same = analyze(log(50, 0, scores=(0.3, 0.3))).shift
    moved = analyze([record(i, [0], [0], scores=(0.2, 0.2 + i / 100)) for i in range(50)]
                    + [record(50 + i, [0], [0], scores=(0.7, 0.7)) for i in range(50)]).shift
    assert same.ks_distance == 0 and same.primary_mean == pytest.approx(0.3)
    assert moved.shadow_mean - moved.primary_mean == pytest.approx(np.mean(range(50)) / 200)
    assert moved.ks_distance > 0.3 and moved.psi > same.psi


def test_a_shadow_failure_is_a_timeout_or_5xx_not_a_4xx_the_primary_gave_too():
    records = [record(0, [0], None, shadow_status=0, error="timeout: read", shadow_ms=2000),
               record(1, [0], None, shadow_status=503, error="HTTP 503"),
               record(2, [0], None, shadow_status=422, error="HTTP 422", primary_status=422),
               record(3, [0], [0])]
    frame = requests_frame(records)
    assert frame["shadow_failed"].tolist() == [True, True, False, False]
    report = analyze(records)
    assert report.shadow.failed == 2 and report.primary.failed == 0
    assert report.errors == {"timeout": 1, "HTTP 503": 1}
    assert report.shadow.p99_ms > 1900  # a timeout counts at the time it took


def test_labels_join_by_request_id_and_row_and_feed_a_paired_test():
    records = [record(i, [0, 1], [1, 1]) for i in range(20)]
    labels = pd.DataFrame({"request_id": [f"r{i}" for i in range(20)] * 2 + ["gone"],
                           "row": [0] * 20 + [1] * 20 + [0],
                           "label": ["1"] * 40 + ["0"]})
    result = accuracy(rows_frame(records), labels)
    assert (result.labelled, result.unmatched_labels) == (40, 1)
    assert (result.primary, result.shadow) == (0.5, 1.0)
    assert result.paired.candidate_only == 20 and result.paired.significant


def test_labels_without_a_row_column_label_row_0_and_read_numbers_as_classes():
    records = [record(i, [0], [1]) for i in range(4)]
    labels = pd.DataFrame({"request_id": ["r0", "r1", "r2"], "label": [1.0, 1.0, 0.0]})
    result = accuracy(rows_frame(records), labels)
    assert (result.labelled, result.primary, result.shadow) == (3, 1 / 3, 2 / 3)


@pytest.mark.parametrize(("labels", "message"), [
    ({"request_id": ["r1"]}, "missing: label"),
    ({"request_id": ["r1", "r1"], "label": [0, 1]}, "r1 row 0 is labelled more than once"),
    ({"request_id": ["r1"], "label": [None]}, "empty label"),
    ({"request_id": ["r1"], "label": [1], "row": [-1]}, "whole numbers >= 0"),
])
def test_malformed_labels_are_user_errors(labels, message):
    with pytest.raises(UserInputError, match=message):
        analyze(log(2, 0), pd.DataFrame(labels))


def test_an_empty_log_is_a_user_error():
    with pytest.raises(UserInputError, match="no records"):
        analyze([])


# ----------------------------------------------------------------- the promotion rule

GOOD = dict(agree=600, disagree=10)


def verdict(records, labels=None, **policy):
    return decide(analyze(records, labels), PromotionPolicy(**policy))


def failed(result) -> list[str]:
    return [c.name for c in result.checks if not c.passed]


def test_a_clean_shadow_proceeds_to_a_canary_never_further():
    result = verdict(log(**GOOD))
    assert result.outcome == PROCEED == "proceed to canary" and failed(result) == []
    assert "no labels joined" in result.notes[0]
    assert len(result.reasons) == len(result.checks)


@pytest.mark.parametrize(("records", "policy", "checks", "reason"), [
    (log(100, 2), {}, ["enough data"], "102 rows compared (need >= 200)"),
    (log(**GOOD) + [record(700 + i, [0], None, shadow_status=500, error="HTTP 500")
                    for i in range(20)], {}, ["shadow failures"], "shadow failed 20/630"),
    (log(**GOOD, shadow_ms=600.0), {}, ["shadow latency"], "shadow p99 600.0 ms"),
    (log(500, 110), {}, ["agreement", "agreement per segment"], "agreement 0.820 ["),
    (log(**GOOD) + [record(900 + i, [0], [1], contract="one_year") for i in range(40)]
     + [record(950 + i, [0], [0], contract="one_year") for i in range(20)], {},
     ["agreement per segment"], "contract=one_year 0.333"),
    (log(**GOOD, scores=(0.1, 0.9)), {}, ["probability shift"], "KS distance 1.000"),
    (log(**GOOD), {"max_p99_ms": 4.0}, ["shadow latency"], "budget 4 ms"),
])
def test_each_check_holds_the_shadow_with_its_numbers(records, policy, checks, reason):
    result = verdict(records, **policy)
    assert result.outcome == HOLD and failed(result) == checks
    assert any(reason in line for line in result.reasons), result.reasons


def test_with_labels_a_less_accurate_shadow_is_held_even_when_it_agrees_well():
    records = log(**GOOD)
    worse = pd.DataFrame({"request_id": [r.id for r in records], "label": ["0"] * 600 + ["0"] * 10})
    better = worse.assign(label=["0"] * 600 + ["1"] * 10)
    held = verdict(records, worse)
    assert held.outcome == HOLD and failed(held) == ["accuracy"] and not held.notes
    assert "shadow 0.984 vs primary 1.000" in held.reasons[0]
    assert verdict(records, better).outcome == PROCEED


def test_the_verdict_is_pure_and_plain_data():
    report = analyze(log(**GOOD))
    assert decide(report) == decide(report)
    data = decide(report).to_dict()
    assert data["outcome"] == PROCEED and len(data["checks"]) == 6
    assert report.to_dict()["agreement"]["rows"] == 610
    assert replace(PromotionPolicy(), min_rows=1).to_dict()["min_rows"] == 1
