"""Confidence sequences: intervals that stay valid however often they are looked at.

A canary's guardrail is checked at every interval; an A/B dashboard is opened every
day. Checking a fixed-sample test (`stats.two_proportion_ztest`) at each look and
stopping at the first "significant" result raises its false-positive rate far above
alpha (the A/A simulations of chapters 05 and 07 measure by how much). A confidence
sequence is a sequence of intervals whose chance of EVER missing the true difference,
over all looks, is at most alpha: stop whenever it excludes zero.

Method: the asymptotic confidence sequence with the normal-mixture boundary of
Waudby-Smith, Arnold, Wu, Howard and Ramdas, "Time-uniform central limit theory and
asymptotic confidence sequences", Annals of Statistics 52(6), 2024 (arXiv:2103.06476),
in the form GrowthBook uses for its sequential testing and Safe Rollouts
(gbstats `sequential_interval_halfwidth`; tuning N* = 5,000 by default)::

    halfwidth(n) = s * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * ln(sqrt(n rho^2 + 1) / alpha))
    rho^2        = (-2 ln alpha + ln(-2 ln alpha + 1)) / N*

n is the number of observations (both arms), s^2 = n * Var(p_B - p_A) the variance per
observation. The boundary is tightest near n = N*: set N* to the sample you expect.
It is two-sided at level alpha, so a one-sided decision from one end of the interval
("the canary's error rate is higher": the lower end above 0) holds at alpha as well
(conservatively). "Asymptotic" means the guarantee rests on the central limit theorem:
require a minimum sample per arm before acting on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments.stats import check_counts, unpooled_variance

DEFAULT_TUNING_N = 5_000


def mixture_rho(alpha: float, tuning_n: float = DEFAULT_TUNING_N) -> float:
    """The mixture's spread rho that makes the boundary tightest at `tuning_n` observations."""
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must be between 0 and 1, got {alpha}")
    if tuning_n <= 0:
        raise UserInputError(f"tuning_n must be positive, got {tuning_n}")
    log_alpha = -2 * math.log(alpha)
    return math.sqrt((log_alpha + math.log(log_alpha + 1)) / tuning_n)


def halfwidth(variance: float | np.ndarray, n: float | np.ndarray, *, alpha: float = 0.05,
              tuning_n: float = DEFAULT_TUNING_N) -> float | np.ndarray:
    """Half-width of the confidence sequence for an estimate with `variance` after `n` observations.

    Vectorised: `variance` and `n` may be arrays (the A/A simulations use that).
    """
    rho2 = mixture_rho(alpha, tuning_n) ** 2
    n = np.asarray(n, dtype=float)
    per_observation = np.asarray(variance, dtype=float) * n
    width = np.sqrt(per_observation * 2 * (n * rho2 + 1) / (n**2 * rho2)
                    * np.log(np.sqrt(n * rho2 + 1) / alpha))
    return float(width) if width.ndim == 0 else width


@dataclass(frozen=True)
class SequentialInterval:
    """The always-valid interval for p_B - p_A after the looks so far."""

    p_a: float
    p_b: float
    difference: float
    ci_low: float
    ci_high: float
    n_a: int
    n_b: int
    alpha: float
    tuning_n: float

    def excludes_zero(self) -> bool:
        """True when the data already show a difference (in either direction)."""
        return self.ci_low > 0 or self.ci_high < 0

    def to_dict(self) -> dict:
        return asdict(self)


def proportion_difference_cs(successes_a: int, n_a: int, successes_b: int, n_b: int, *,
                             alpha: float = 0.05,
                             tuning_n: float = DEFAULT_TUNING_N) -> SequentialInterval:
    """The confidence sequence for p_B - p_A (B: canary or treatment; A: stable or control)."""
    check_counts(successes_a, n_a, "A")
    check_counts(successes_b, n_b, "B")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    half = halfwidth(unpooled_variance(successes_a, n_a, successes_b, n_b), n_a + n_b,
                     alpha=alpha, tuning_n=tuning_n)
    return SequentialInterval(p_a=p_a, p_b=p_b, difference=p_b - p_a, ci_low=p_b - p_a - half,
                              ci_high=p_b - p_a + half, n_a=n_a, n_b=n_b, alpha=alpha,
                              tuning_n=tuning_n)
