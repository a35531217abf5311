"""Two-proportion statistics: the fixed-sample test against statsmodels, and the
confidence sequence's promise (valid at every look) against simulated A/A experiments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments.peeking import cumulative_looks
from mlcicd_course.experiments.sequential import (
    halfwidth,
    mixture_rho,
    proportion_difference_cs,
)
from mlcicd_course.experiments.stats import two_proportion_ztest

CASES = [(90, 1000, 120, 1000), (3, 400, 11, 380), (500, 5000, 430, 4800), (0, 50, 4, 60)]


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
@pytest.mark.parametrize(("sa", "na", "sb", "nb"), CASES)
def test_ztest_matches_statsmodels(sa, na, sb, nb, alternative):
    ours = two_proportion_ztest(sa, na, sb, nb, alternative=alternative)
    z, p = proportions_ztest([sb, sa], [nb, na], alternative=alternative)
    assert ours.z == pytest.approx(z, rel=1e-9)
    assert ours.p_value == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize(("sa", "na", "sb", "nb"), CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_interval_matches_statsmodels_wald(sa, na, sb, nb, confidence):
    ours = two_proportion_ztest(sa, na, sb, nb, confidence=confidence)
    low, high = confint_proportions_2indep(sb, nb, sa, na, method="wald", compare="diff",
                                           alpha=1 - confidence)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert ours.difference == pytest.approx(sb / nb - sa / na)


def test_no_variance_means_no_evidence():
    result = two_proportion_ztest(0, 100, 0, 200, alternative="larger")
    assert (result.z, result.p_value) == (0.0, 1.0)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((5, 4, 1, 10), {}, "arm A"),
    ((1, 10, -1, 10), {}, "arm B"),
    ((1, 0, 1, 10), {}, "arm A"),
    ((1, 10, 1, 10), {"alternative": "greater"}, "alternative"),
    ((1, 10, 1, 10), {"confidence": 95}, "confidence"),
])
def test_bad_counts_and_options_are_refused(args, kwargs, message):
    with pytest.raises(UserInputError, match=message):
        two_proportion_ztest(*args, **kwargs)


def test_confidence_sequence_is_wider_than_the_fixed_interval_at_every_look():
    n = np.array([100, 1_000, 5_000, 20_000, 100_000])
    variance = 0.05 * 0.95 * 2 / (n / 2)
    fixed = norm.ppf(0.975) * np.sqrt(variance)
    sequential = halfwidth(variance, n, alpha=0.05, tuning_n=5_000)
    assert np.all(sequential > fixed)
    assert np.all(np.diff(sequential) < 0), "more data must narrow the interval"


def test_tuning_n_is_where_the_boundary_is_tightest():
    """Relative to the fixed interval, the boundary is narrowest near N*."""
    n = np.geomspace(100, 1_000_000, 400)
    ratio = halfwidth(1 / n, n, alpha=0.05, tuning_n=5_000) / np.sqrt(1 / n)
    assert 2_000 < n[np.argmin(ratio)] < 12_000


def test_scalar_interval_uses_the_same_boundary():
    result = proportion_difference_cs(40, 2_000, 70, 2_000, alpha=0.05, tuning_n=4_000)
    var = 0.02 * 0.98 / 2_000 + 0.035 * 0.965 / 2_000
    assert result.ci_high - result.difference == pytest.approx(
        halfwidth(var, 4_000, alpha=0.05, tuning_n=4_000))
    assert result.excludes_zero() == (result.ci_low > 0)


@pytest.mark.parametrize(("alpha", "tuning_n"), [(0, 5_000), (1.5, 5_000), (0.05, 0)])
def test_bad_boundary_settings_are_refused(alpha, tuning_n):
    with pytest.raises(UserInputError):
        mixture_rho(alpha, tuning_n)


def test_aa_peeking_inflates_the_fixed_test_but_not_the_sequence():
    """2,000 A/A experiments (5% errors in both arms), each looked at 20 times."""
    a, b, n = cumulative_looks(np.random.default_rng(7), 2_000, 20, 250, 0.05, 0.05)
    p_a, p_b = a / n, b / n
    pooled = (a + b) / (2 * n)
    z = (p_b - p_a) / np.sqrt(pooled * (1 - pooled) * 2 / n)
    naive_rate = (z > norm.ppf(0.95)).any(axis=1).mean()
    half = halfwidth(p_a * (1 - p_a) / n + p_b * (1 - p_b) / n, 2 * n, alpha=0.05,
                     tuning_n=2 * n[-1])
    sequential_rate = (p_b - p_a - half > 0).any(axis=1).mean()
    assert naive_rate > 0.10, "peeking at a one-sided 5% test should fail far more often"
    assert sequential_rate <= 0.05


def test_a_real_difference_is_found():
    """Canary errors 2% -> 6%: the sequence excludes zero well before the last look."""
    a, b, n = cumulative_looks(np.random.default_rng(11), 500, 20, 250, 0.02, 0.06)
    p_a, p_b = a / n, b / n
    half = halfwidth(p_a * (1 - p_a) / n + p_b * (1 - p_b) / n, 2 * n, alpha=0.05,
                     tuning_n=2 * n[-1])
    found = (p_b - p_a - half > 0)
    assert found[:, -1].mean() > 0.95
    assert np.median(found.argmax(axis=1)) < 10
