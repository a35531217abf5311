"""The canary's error-rate guardrail, and judging a canary against stable in the same window."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportions_ztest

from mlcicd_course.drift import psi
from mlcicd_course.experiments.sequential import proportion_difference_cs
from mlcicd_course.rollout.canary_sim import guardrail_trials
from mlcicd_course.rollout.guardrail import (
    Guardrail,
    Verdict,
    check,
    naive_look,
    naive_rejects,
    sequential_rejects,
)
from mlcicd_course.rollout.observations import Observations, VersionMetrics, read_query

CASES = [(40, 4000, 9, 400), (40, 4000, 30, 1000), (90, 9000, 10, 1000), (5, 800, 0, 250)]


@pytest.mark.parametrize(("es", "ns", "ec", "nc"), CASES)
def test_the_naive_look_is_statsmodels_one_sided_ztest(es, ns, ec, nc):
    reject, test = naive_look(es, ns, ec, nc, alpha=0.05)
    z, p = proportions_ztest([ec, es], [nc, ns], alternative="larger")
    assert test.p_value == pytest.approx(p, rel=1e-9) and test.z == pytest.approx(z, rel=1e-9)
    assert reject == (p < 0.05)


@pytest.mark.parametrize(("es", "ns", "ec", "nc"), CASES)
def test_the_guardrail_is_the_lower_end_of_the_confidence_sequence(es, ns, ec, nc):
    guard = Guardrail(alpha=0.05, min_sample=100)
    look = check(guard, es, ns, ec, nc)
    cs = proportion_difference_cs(es, ns, ec, nc, alpha=0.05)
    assert (look.ci_low, look.ci_high) == (cs.ci_low, cs.ci_high)
    assert look.verdict is (Verdict.WORSE if cs.ci_low > 0 else Verdict.OK)


def test_the_sequential_interval_is_wider_than_the_one_look_test():
    # 1 % vs 2 %: one look says "worse", the always-valid interval does not yet
    reject, _ = naive_look(40, 4000, 20, 1000)
    assert reject and check(Guardrail(), 40, 4000, 20, 1000).verdict is Verdict.OK


def test_no_verdict_below_the_minimum_sample():
    look = check(Guardrail(min_sample=500), 0, 10_000, 200, 400)
    assert look.verdict is Verdict.TOO_FEW and look.ci_low is None
    assert "too few" in look.message


@pytest.mark.parametrize(("es", "ns", "ec", "nc"), CASES)
def test_the_vectorised_decisions_equal_the_scalar_ones(es, ns, ec, nc):
    guard = Guardrail(alpha=0.05, min_sample=100)
    seq = sequential_rejects([es], [ns], [ec], [nc], guard)
    naive = naive_rejects([es], [ns], [ec], [nc], alpha=0.05, min_sample=100)
    assert seq.tolist() == [check(guard, es, ns, ec, nc).verdict is Verdict.WORSE]
    assert naive.tolist() == [naive_look(es, ns, ec, nc)[0]]


def test_aa_canaries_peeking_inflates_the_naive_test_not_the_sequence():
    trials = guardrail_trials(canaries=400, looks=40, requests_per_look=250, canary_share=0.2,
                              stable_error_rate=0.02, canary_error_rate=0.02,
                              guardrail=Guardrail(alpha=0.05, min_sample=100), seed=3)
    assert trials.rollback_rate_sequential <= 0.05
    assert trials.rollback_rate_naive > 2 * 0.05 > trials.rollback_rate_sequential


def test_a_bad_canary_is_caught_by_both_the_naive_test_first():
    trials = guardrail_trials(canaries=200, looks=40, requests_per_look=250, canary_share=0.2,
                              stable_error_rate=0.01, canary_error_rate=0.04, seed=4)
    assert trials.rollback_rate_sequential > 0.95
    assert trials.median_canary_requests_naive < trials.median_canary_requests_sequential


def window(canary: VersionMetrics, stable: VersionMetrics) -> Observations:
    return Observations(metrics={"canary": canary, "stable": stable})


def test_comparisons_judge_the_canary_against_stable_in_the_same_window():
    obs = window(VersionMetrics(200, 6, 5.0, 60.0, accuracy=0.80),
                 VersionMetrics(800, 8, 5.0, 40.0, accuracy=0.90))
    assert read_query("error_rate_excess", obs, "canary", "stable") == (
        pytest.approx(0.02), 200)
    assert read_query("latency_p99_ratio", obs, "canary", "stable") == (1.5, 200)
    assert read_query("accuracy_drop", obs, "canary", "stable") == (pytest.approx(0.1), 200)
    # no baseline, or one side without traffic or labels: no data, never a pass
    assert read_query("error_rate_excess", obs, "canary") == (None, 0)
    idle = window(VersionMetrics(0, 0, 0.0, 0.0), VersionMetrics(800, 8, 5.0, 40.0))
    assert read_query("latency_p99_ratio", idle, "canary", "stable") == (None, 0)
    assert read_query("proba_shift", obs, "canary", "stable") == (None, 200)


def test_the_probability_shift_is_the_psi_of_the_two_histograms():
    rng = np.random.default_rng(0)
    stable, canary = rng.beta(2, 5, 4000), rng.beta(3, 4, 1000)
    bins = np.linspace(0, 1, 11)

    def counts(p):
        return tuple(int(c) for c in np.histogram(p, bins)[0])

    obs = window(VersionMetrics(1000, 0, 1.0, 2.0, proba_counts=counts(canary)),
                 VersionMetrics(4000, 0, 1.0, 2.0, proba_counts=counts(stable)))
    value, sample = read_query("proba_shift", obs, "canary", "stable")
    ref = np.digitize(stable, bins[1:-1])
    cur = np.digitize(canary, bins[1:-1])
    assert sample == 1000
    assert value == pytest.approx(psi(ref.astype(str), cur.astype(str)), rel=1e-9)
    assert value > 0.1
