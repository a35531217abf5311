"""Comparing two proportions (error rates, conversion rates) with one look at the data.

`two_proportion_ztest` is the fixed-sample test: valid when the sample size is decided
in advance and the data are looked at once. Looking again and again (a canary checked
every minute, an A/B dashboard refreshed every day) inflates its false positives; use
`mlcicd_course.experiments.sequential` for that.

Conventions: arm A is the reference (stable, control), arm B the new version (canary,
treatment); the difference is p_B - p_A. `alternative` says what the test looks for:
"two-sided" (p_B != p_A), "larger" (p_B > p_A), "smaller" (p_B < p_A). The z statistic
uses the pooled proportion (the variance under "no difference"); the confidence interval
uses each arm's own variance (Wald). Both match statsmodels' `proportions_ztest` and
`confint_proportions_2indep(method="wald")`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy.stats import norm

from mlcicd_course.errors import UserInputError

ALTERNATIVES = ("two-sided", "larger", "smaller")


@dataclass(frozen=True)
class ProportionTest:
    """The result of comparing arm B's proportion with arm A's."""

    successes_a: int
    n_a: int
    successes_b: int
    n_b: int
    p_a: float
    p_b: float
    difference: float
    z: float
    p_value: float
    alternative: str
    ci_low: float
    ci_high: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def check_counts(successes: int, n: int, arm: str) -> None:
    """Refuse counts that cannot be a proportion (negative, or more successes than trials)."""
    if n < 1 or successes < 0 or successes > n:
        raise UserInputError(f"arm {arm}: need 0 <= successes <= n and n >= 1, got "
                             f"{successes} of {n}")


def pooled_variance(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Variance of p_B - p_A when both arms share one proportion (no difference)."""
    pooled = (successes_a + successes_b) / (n_a + n_b)
    return pooled * (1 - pooled) * (1 / n_a + 1 / n_b)


def unpooled_variance(successes_a: int, n_a: int, successes_b: int, n_b: int) -> float:
    """Variance of p_B - p_A with each arm's own proportion."""
    p_a, p_b = successes_a / n_a, successes_b / n_b
    return p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b


def p_value_of(z: float, alternative: str) -> float:
    """The p-value of a standard normal statistic `z` for `alternative`."""
    if alternative == "larger":
        return float(norm.sf(z))
    if alternative == "smaller":
        return float(norm.cdf(z))
    return float(2 * norm.sf(abs(z)))


def two_proportion_ztest(successes_a: int, n_a: int, successes_b: int, n_b: int, *,
                         alternative: str = "two-sided",
                         confidence: float = 0.95) -> ProportionTest:
    """Test p_B against p_A once; the interval is for p_B - p_A at `confidence`."""
    if alternative not in ALTERNATIVES:
        raise UserInputError(f"alternative must be one of {', '.join(ALTERNATIVES)}, "
                             f"got {alternative!r}")
    if not 0 < confidence < 1:
        raise UserInputError(f"confidence must be between 0 and 1, got {confidence}")
    check_counts(successes_a, n_a, "A")
    check_counts(successes_b, n_b, "B")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    difference = p_b - p_a
    se_null = math.sqrt(pooled_variance(successes_a, n_a, successes_b, n_b))
    z = difference / se_null if se_null > 0 else 0.0
    half = norm.ppf(0.5 + confidence / 2) * math.sqrt(
        unpooled_variance(successes_a, n_a, successes_b, n_b))
    return ProportionTest(
        successes_a=successes_a, n_a=n_a, successes_b=successes_b, n_b=n_b,
        p_a=p_a, p_b=p_b, difference=difference, z=z,
        p_value=p_value_of(z, alternative) if se_null > 0 else 1.0,
        alternative=alternative, ci_low=difference - half, ci_high=difference + half,
        confidence=confidence,
    )
