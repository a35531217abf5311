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

Around the test, what an A/B analysis needs: `sample_ratio_check` (did the arms get
the planned shares of units? checked first), `per_unit` (one observation per user, the
unit of assignment), `relative_lift` (p_B / p_A - 1, delta method) and `cohens_h`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import pandas as pd
from scipy.stats import chi2 as chi2_dist
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
    _check_confidence(confidence)
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


@dataclass(frozen=True)
class RelativeLift:
    """p_B / p_A - 1 with its delta-method confidence interval."""

    lift: float
    ci_low: float
    ci_high: float
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def relative_lift(successes_a: int, n_a: int, successes_b: int, n_b: int, *,
                  confidence: float = 0.95) -> RelativeLift:
    """The relative lift p_B / p_A - 1 and its interval by the delta method.

    With r = p_B / p_A, the first-order (delta-method) variance is::

        Var(r) = r^2 * ((1 - p_B) / (n_B p_B) + (1 - p_A) / (n_A p_A))

    and the interval is lift +- z * sqrt(Var(r)) (GrowthBook's frequentist lift).
    Undefined when arm A has no successes; with p_B = 0 the interval is the point.
    """
    _check_confidence(confidence)
    check_counts(successes_a, n_a, "A")
    check_counts(successes_b, n_b, "B")
    if successes_a == 0:
        raise UserInputError("relative lift needs at least one success in arm A")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    ratio = p_b / p_a
    log_variance = (1 - p_a) / (n_a * p_a) + ((1 - p_b) / (n_b * p_b) if p_b > 0 else 0.0)
    half = norm.ppf(0.5 + confidence / 2) * ratio * math.sqrt(log_variance)
    return RelativeLift(lift=ratio - 1, ci_low=ratio - 1 - half, ci_high=ratio - 1 + half,
                        confidence=confidence)


def cohens_h(p_a: float, p_b: float) -> float:
    """Cohen's h, the effect size of two proportions: 2 asin(sqrt(p_B)) - 2 asin(sqrt(p_A)).

    On 0/1 outcomes it replaces Cohen's d (whose standard deviation is not free of the
    mean); 0.2 is conventionally "small", 0.5 "medium", 0.8 "large".
    """
    for name, value in (("p_a", p_a), ("p_b", p_b)):
        if not 0 <= value <= 1:
            raise UserInputError(f"{name} must be a proportion in [0, 1], got {value}")
    return 2 * math.asin(math.sqrt(p_b)) - 2 * math.asin(math.sqrt(p_a))


SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatioCheck:
    """The chi-square goodness-of-fit test of the units per arm against the planned split."""

    counts: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        """True when p < threshold: the assignment is broken and the results are invalid."""
        return self.p_value < self.threshold

    def to_dict(self) -> dict:
        return {**asdict(self), "mismatch": self.mismatch}


def sample_ratio_check(counts: Mapping[str, int], shares: Mapping[str, float] | None = None,
                       *, threshold: float = SRM_THRESHOLD) -> SampleRatioCheck:
    """Sample-ratio mismatch test: chi2 = sum((observed - expected)^2 / expected), k - 1 df.

    `shares` are the planned shares per arm (default: equal); they are normalised to 1.
    GrowthBook and Statsig call p < 0.001 a mismatch: look for the bug before any result.
    """
    names = list(counts)
    shares = dict(shares) if shares is not None else dict.fromkeys(names, 1.0)
    if len(names) < 2 or set(shares) != set(names):
        raise UserInputError(f"need counts and shares for the same two or more arms, got "
                             f"{sorted(names)} and {sorted(shares)}")
    if any(c < 0 for c in counts.values()) or sum(counts.values()) == 0:
        raise UserInputError("arm counts must be non-negative with a positive total")
    if any(s <= 0 for s in shares.values()):
        raise UserInputError("planned shares must be positive")
    total, share_total = sum(counts.values()), sum(shares.values())
    expected = {name: total * shares[name] / share_total for name in names}
    chi2 = sum((counts[name] - expected[name]) ** 2 / expected[name] for name in names)
    return SampleRatioCheck(counts={n: int(counts[n]) for n in names}, expected=expected,
                            chi2=chi2, p_value=float(chi2_dist.sf(chi2, len(names) - 1)),
                            threshold=threshold)


@dataclass(frozen=True)
class PerUnit:
    """Per-unit outcomes and how many units were dropped for being in several variants."""

    units: pd.DataFrame
    mixed_units: int

    def to_dict(self) -> dict:
        return {"units": len(self.units), "mixed_units": self.mixed_units}


def per_unit(frame: pd.DataFrame, unit: str, variant: str, outcome: str) -> PerUnit:
    """One row per unit (user): its variant and whether its outcome was ever 1.

    The unit of analysis is the unit of assignment: a user with ten requests is one
    observation, not ten. Units seen in more than one variant (a broken assignment)
    are left out and counted. Outcomes must be 0/1 (or true/false).
    """
    if len({unit, variant, outcome}) < 3:
        raise UserInputError(f"unit, variant and outcome must be three different columns, "
                             f"got {unit!r}, {variant!r}, {outcome!r}")
    for column in (unit, variant, outcome):
        if column not in frame.columns:
            raise UserInputError(f"no column {column!r}; columns: {', '.join(map(str, frame))}")
    data = frame[[unit, variant, outcome]]
    if data.isna().any().any():
        bad = data.columns[data.isna().any()][0]
        raise UserInputError(f"column {bad!r} has missing values")
    values = pd.to_numeric(data[outcome].replace({True: 1, False: 0}), errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise UserInputError(f"outcome column {outcome!r} must hold only 0/1")
    data = data.assign(**{outcome: values.astype(int), variant: data[variant].astype(str)})
    grouped = data.groupby(unit, sort=True)
    variants = grouped[variant].nunique()
    mixed = variants.index[variants > 1]
    units = grouped.agg(**{variant: (variant, "first"), outcome: (outcome, "max"),
                           "rows": (outcome, "size")})
    return PerUnit(units=units.drop(index=mixed), mixed_units=len(mixed))


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise UserInputError(f"confidence must be between 0 and 1, got {confidence}")
