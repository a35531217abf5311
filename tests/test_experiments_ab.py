"""A/B statistics beyond the z-test: relative lift, Cohen's h, sample-ratio check, per-user
aggregation, power and sample size (against statsmodels), the A/A peeking simulation and
the analysis' decisions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportion_effectsize,
    samplesize_proportions_2indep_onetail,
)

from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments import hashing
from mlcicd_course.experiments.analysis import analyze
from mlcicd_course.experiments.peeking import simulate_aa
from mlcicd_course.experiments.power import (
    achieved_power,
    duration_days,
    required_sample_size,
)
from mlcicd_course.experiments.stats import (
    cohens_h,
    per_unit,
    relative_lift,
    sample_ratio_check,
)


def test_vectorised_buckets_of_awkward_ids_equal_the_scalar_ones():
    """Non-ASCII text, NUL characters, empty ids and integers (the ids are packed end to
    end, so each id's length must be counted in UTF-8 bytes)."""
    ids = ["", "ü", "a\x00b", "\x00", "x\x00", "日本語", 0, -5, 2**40, "user-1"]
    assert hashing.buckets("s", ids).tolist() == [hashing.bucket("s", str(u)) for u in ids]
    assert hashing.buckets("", ["", ""]).tolist() == [hashing.bucket("", "")] * 2


def test_the_second_hash_reads_every_number_of_digits():
    values = np.array([0, 9, 10, 99, 100, 12345, 10**9 - 1, 10**9, 2**32 - 1], dtype=np.uint32)
    assert hashing._fnv1a32_decimal(values).tolist() == [
        hashing.fnv1a32(str(int(v))) for v in values]


CASES = [(900, 1000, 925, 1000), (30, 400, 41, 380), (500, 5000, 430, 4800)]


@pytest.mark.parametrize(("sa", "na", "sb", "nb"), CASES)
def test_relative_lift_interval_is_the_delta_method_of_the_log_ratio(sa, na, sb, nb):
    """Delta method: sd(r) = r * sd(log r); statsmodels' log interval gives sd(log r)."""
    ours = relative_lift(sa, na, sb, nb, confidence=0.95)
    low, high = confint_proportions_2indep(sb, nb, sa, na, method="log", compare="ratio")
    ratio = (sb / nb) / (sa / na)
    assert ours.lift == pytest.approx(ratio - 1)
    assert (ours.ci_high - ours.ci_low) / 2 == pytest.approx(
        ratio * (math.log(high) - math.log(low)) / 2, rel=1e-9)


def test_relative_lift_needs_a_success_in_the_control():
    with pytest.raises(UserInputError, match="arm A"):
        relative_lift(0, 100, 5, 100)


@pytest.mark.parametrize(("p_a", "p_b"), [(0.90, 0.92), (0.5, 0.52), (0.3, 0.1), (0.0, 1.0)])
def test_cohens_h_matches_statsmodels(p_a, p_b):
    assert cohens_h(p_a, p_b) == pytest.approx(proportion_effectsize(p_b, p_a), abs=1e-12)


def test_cohens_h_refuses_non_proportions():
    with pytest.raises(UserInputError, match="p_b"):
        cohens_h(0.5, 1.2)


@pytest.mark.parametrize(("counts", "mismatch"), [
    ({"a": 44_000, "b": 45_000}, True),
    ({"a": 5_050, "b": 4_950}, False),
    ({"a": 1_000, "b": 1_000, "c": 880}, False),
    ({"a": 1_000, "b": 1_000, "c": 800}, True),
])
def test_sample_ratio_check_matches_scipy(counts, mismatch):
    ours = sample_ratio_check(counts)
    chi2, p = chisquare(list(counts.values()))
    assert (ours.chi2, ours.p_value) == pytest.approx((chi2, p), rel=1e-9)
    assert ours.mismatch is mismatch


def test_sample_ratio_check_uses_the_planned_shares():
    """90/10 is fine when 90/10 was planned, and a mismatch when 50/50 was."""
    counts = {"stable": 9_000, "canary": 1_000}
    assert not sample_ratio_check(counts, {"stable": 90, "canary": 10}).mismatch
    assert sample_ratio_check(counts).mismatch
    chi2, p = chisquare([9_000, 1_000], [8_950, 1_050])
    planned = sample_ratio_check(counts, {"stable": 0.895, "canary": 0.105})
    assert planned.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(("counts", "shares"), [
    ({"a": 10}, None), ({"a": 5, "b": -1}, None), ({"a": 5, "b": 5}, {"a": 1, "c": 1}),
    ({"a": 0, "b": 0}, None), ({"a": 5, "b": 5}, {"a": 1, "b": 0}),
])
def test_sample_ratio_check_refuses_bad_counts(counts, shares):
    with pytest.raises(UserInputError):
        sample_ratio_check(counts, shares)


def test_per_unit_counts_each_user_once_and_drops_users_in_both_arms():
    events = pd.DataFrame({
        "user": ["u1", "u1", "u1", "u2", "u3", "u3", "u4"],
        "arm": ["A", "A", "A", "B", "B", "A", "B"],
        "stayed": [0, 1, 0, 0, 1, 1, True],
    })
    result = per_unit(events, "user", "arm", "stayed")
    assert result.mixed_units == 1
    assert result.units.to_dict("index") == {
        "u1": {"arm": "A", "stayed": 1, "rows": 3},
        "u2": {"arm": "B", "stayed": 0, "rows": 1},
        "u4": {"arm": "B", "stayed": 1, "rows": 1},
    }


@pytest.mark.parametrize(("column", "values", "message"), [
    ("stayed", [0, 2, 1], "only 0/1"),
    ("stayed", [0, "yes", 1], "only 0/1"),
    ("arm", ["A", None, "B"], "missing values"),
])
def test_per_unit_refuses_bad_columns(column, values, message):
    frame = pd.DataFrame({"user": ["u1", "u2", "u3"], "arm": ["A", "B", "A"],
                          "stayed": [0, 1, 1]})
    frame[column] = values
    with pytest.raises(UserInputError, match=message):
        per_unit(frame, "user", "arm", "stayed")
    with pytest.raises(UserInputError, match="no column 'nope'"):
        per_unit(frame, "nope", "arm", "stayed")


def test_sample_size_of_the_course_example():
    """0.90 -> 0.92, alpha 0.05, power 0.8: the textbook formula gives 3,213 per arm."""
    plan = required_sample_size(0.90, 0.92)
    assert (plan.n_per_arm, plan.n_total) == (3_213, 6_426)
    assert required_sample_size(0.90, 0.91).n_per_arm == 13_495
    assert required_sample_size(0.50, 0.52).n_per_arm == 9_806


@pytest.mark.parametrize(("p1", "p2", "alpha", "power"), [
    (0.90, 0.92, 0.05, 0.8), (0.10, 0.13, 0.01, 0.9), (0.50, 0.45, 0.05, 0.8),
])
def test_sample_size_matches_statsmodels(p1, p2, alpha, power):
    """statsmodels' pooled-null formula gives the same n; its arcsine (Cohen's h) version
    differs by a few units only: the two are approximations of the same power."""
    ours = required_sample_size(p1, p2, alpha=alpha, power=power)
    theirs = samplesize_proportions_2indep_onetail(p2 - p1, p1, power, alpha=alpha,
                                                   alternative="two-sided")
    assert ours.n_per_arm == math.ceil(theirs)
    arcsine = NormalIndPower().solve_power(proportion_effectsize(p2, p1), alpha=alpha,
                                           power=power)
    assert abs(ours.n_per_arm - arcsine) / arcsine < 0.01


@pytest.mark.parametrize("n", [500, 3_213, 10_000])
def test_achieved_power_matches_statsmodels_and_inverts_the_sample_size(n):
    theirs = power_proportions_2indep(0.02, 0.90, n, alpha=0.05, alternative="two-sided")
    assert achieved_power(0.90, 0.92, n) == pytest.approx(theirs.power, rel=1e-9)
    plan = required_sample_size(0.90, 0.92)
    assert achieved_power(0.90, 0.92, plan.n_per_arm) >= 0.8 > achieved_power(
        0.90, 0.92, plan.n_per_arm - 10)


def test_duration_in_days_from_traffic():
    assert duration_days(6_426, 1_000) == 7
    assert duration_days(6_426, 1_000, share=0.5) == 13
    assert duration_days(6_000, 1_000) == 6


@pytest.mark.parametrize(("call", "message"), [
    (lambda: required_sample_size(0.9, 0.9), "equal"),
    (lambda: required_sample_size(1.0, 0.9), "baseline"),
    (lambda: required_sample_size(0.9, 0.92, power=80), "power"),
    (lambda: required_sample_size(0.9, 0.92, alpha=0), "alpha"),
    (lambda: required_sample_size(0.9, 0.92, arms=1), "2 arms"),
    (lambda: duration_days(100, 0), "traffic"),
    (lambda: duration_days(100, 10, share=0), "share"),
])
def test_planning_refuses_bad_input(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


def test_aa_peeking_inflates_false_positives_and_the_sequence_does_not():
    result = simulate_aa(np.random.default_rng(2026), simulations=2_000, looks=20,
                         per_look=200, p=0.3)
    assert 0.03 < result.final_look_rate < 0.07, "one look keeps alpha"
    assert result.peeking_rate > 0.15, "20 looks should more than triple it"
    assert result.sequential_rate <= 0.05
    assert list(result.peeking_by_look) == sorted(result.peeking_by_look)
    assert result.peeking_by_look[-1] == result.peeking_rate


def make_results(rng, n_a, n_b, p_a, p_b, *, guard_a=0.02, guard_b=0.02, events=2):
    """Per-event records of an experiment: each user has `events` rows in one arm."""
    users = [(f"u{i}", "A", p_a, guard_a) for i in range(n_a)]
    users += [(f"v{i}", "B", p_b, guard_b) for i in range(n_b)]
    ids, arms, p, g = map(np.array, zip(*users, strict=True))
    stayed = rng.random(len(ids)) < p.astype(float)
    complaint = rng.random(len(ids)) < g.astype(float)
    frame = pd.DataFrame({"user": ids, "arm": arms, "stayed": stayed.astype(int),
                          "complaint": complaint.astype(int)})
    return pd.concat([frame] * events, ignore_index=True)


def test_analysis_ships_a_better_treatment():
    frame = make_results(np.random.default_rng(1), 4_000, 4_000, 0.90, 0.93)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed",
                     guardrails=["complaint"])
    assert result.valid and result.decision == "ship B"
    assert result.units == {"A": 4_000, "B": 4_000}, "counted per user, not per event"
    assert result.test.ci_low > 0 and result.lift.ci_low > 0
    assert result.effect_size_h == pytest.approx(cohens_h(result.test.p_a, result.test.p_b))
    assert not result.guardrails[0].failed
    assert result.to_dict()["guardrails"][0]["metric"] == "complaint"


def test_analysis_keeps_the_control_when_a_guardrail_fails():
    frame = make_results(np.random.default_rng(2), 4_000, 4_000, 0.90, 0.93, guard_b=0.06)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed",
                     guardrails=["complaint"])
    assert result.decision == "keep A" and "complaint" in result.reasons[0]


def test_analysis_without_a_difference_says_so():
    frame = make_results(np.random.default_rng(3), 2_000, 2_000, 0.9, 0.9)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed", control="B")
    assert (result.control, result.treatment) == ("B", "A")
    assert result.decision == "no detectable difference"
    assert result.test.ci_low < 0 < result.test.ci_high


def test_a_sample_ratio_mismatch_invalidates_the_result():
    frame = make_results(np.random.default_rng(4), 4_400, 4_000, 0.90, 0.95)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed")
    assert not result.valid and result.test is None
    assert "sample-ratio mismatch" in result.reasons[0]
    assert "result: INVALID" in result.lines()


def test_too_few_units_give_no_conclusion():
    frame = make_results(np.random.default_rng(5), 60, 55, 0.5, 0.9)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed")
    assert not result.valid and "too few units" in result.reasons[0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"control": "C"}, "control 'C'"), ({"alpha": 5}, "alpha"),
])
def test_analysis_refuses_bad_options(kwargs, message):
    frame = make_results(np.random.default_rng(6), 200, 200, 0.5, 0.5)
    with pytest.raises(UserInputError, match=message):
        analyze(frame, unit="user", variant="arm", outcome="stayed", **kwargs)
    three = frame.assign(arm=np.where(frame.index % 3 == 0, "C", frame["arm"]))
    with pytest.raises(UserInputError, match="exactly two variants"):
        analyze(three.assign(user=three.index.astype(str)), unit="user", variant="arm",
                outcome="stayed")


def test_analysis_without_successes_in_the_control_has_no_relative_lift():
    frame = make_results(np.random.default_rng(7), 300, 300, 0.0, 0.05)
    result = analyze(frame, unit="user", variant="arm", outcome="stayed")
    assert result.valid and result.lift is None
    assert result.test.p_a == 0 and not any(line.startswith("relative") for line in
                                            result.lines())
