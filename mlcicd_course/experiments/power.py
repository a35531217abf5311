"""How many units an experiment needs before it starts, and how long that takes.

For two proportions p1 (control) and p2 (treatment), a two-sided test at level alpha
and power 1 - beta needs, per arm (equal arms)::

    n = (z_{1-alpha/2} sqrt(2 pbar qbar) + z_{1-beta} sqrt(p1 q1 + p2 q2))^2 / (p2 - p1)^2

with q = 1 - p and pbar the mean of p1 and p2: the first term is the spread of the
difference when there is none (the pooled z-test's null), the second when p2 is true.
0.90 -> 0.92 at alpha 0.05 and power 0.8 needs 3,213 users per arm. The duration
follows from the traffic: days = total units / (eligible units per day * share in the
experiment). Deciding n first and looking once is what keeps the fixed-sample test's
false-positive rate at alpha.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy.stats import norm

from mlcicd_course.errors import UserInputError


@dataclass(frozen=True)
class SamplePlan:
    """Units per arm (and in all) that detect p1 -> p2 with the given alpha and power."""

    p1: float
    p2: float
    alpha: float
    power: float
    arms: int
    n_per_arm: int

    @property
    def n_total(self) -> int:
        return self.n_per_arm * self.arms

    def to_dict(self) -> dict:
        return {**asdict(self), "n_total": self.n_total}


def _check(p1: float, p2: float, alpha: float, power: float) -> None:
    for name, value in (("baseline", p1), ("target", p2)):
        if not 0 < value < 1:
            raise UserInputError(f"{name} must be a proportion strictly between 0 and 1, "
                                 f"got {value}")
    if p1 == p2:
        raise UserInputError("baseline and target are equal: no difference to detect")
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 < power < 1:
        raise UserInputError(f"power must be between 0 and 1, got {power}")


def required_sample_size(p1: float, p2: float, *, alpha: float = 0.05, power: float = 0.8,
                         arms: int = 2) -> SamplePlan:
    """Units per arm for a two-sided two-proportion z-test to detect p1 -> p2 (rounded up).

    With more than two arms, each arm is compared with the control at `alpha` as given
    (divide alpha by the number of comparisons first for a Bonferroni correction).
    """
    _check(p1, p2, alpha, power)
    if arms < 2:
        raise UserInputError(f"an experiment needs at least 2 arms, got {arms}")
    mean = (p1 + p2) / 2
    spread = (norm.ppf(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean))
              + norm.ppf(power) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    n = spread**2 / (p2 - p1) ** 2
    return SamplePlan(p1=p1, p2=p2, alpha=alpha, power=power, arms=arms,
                      n_per_arm=math.ceil(n - 1e-9))


def achieved_power(p1: float, p2: float, n_per_arm: int, *, alpha: float = 0.05) -> float:
    """The power of the two-sided test with `n_per_arm` units in each arm (the formula above
    solved for 1 - beta; the far tail, below -z, is included)."""
    _check(p1, p2, alpha, 0.5)
    if n_per_arm < 1:
        raise UserInputError(f"n_per_arm must be at least 1, got {n_per_arm}")
    mean = (p1 + p2) / 2
    null_sd = math.sqrt(2 * mean * (1 - mean) / n_per_arm)
    alt_sd = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n_per_arm)
    z = norm.ppf(1 - alpha / 2)
    delta = abs(p2 - p1)
    return float(norm.sf((z * null_sd - delta) / alt_sd) + norm.cdf((-z * null_sd - delta)
                                                                     / alt_sd))


def duration_days(n_total: int, units_per_day: float, *, share: float = 1.0) -> int:
    """Whole days to enrol `n_total` units when `units_per_day` new eligible units arrive
    and `share` of them enter the experiment.

    Round up to whole weeks in practice, so that every weekday is represented equally.
    """
    if n_total < 1:
        raise UserInputError(f"n_total must be at least 1, got {n_total}")
    if units_per_day <= 0:
        raise UserInputError(f"traffic must be positive, got {units_per_day} units per day")
    if not 0 < share <= 1:
        raise UserInputError(f"share must be in (0, 1], got {share}")
    return math.ceil(n_total / (units_per_day * share))
