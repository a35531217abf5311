"""The canary's statistical guardrail: is the canary's error rate higher than stable's?

The question is asked at every tick, so a fixed-sample test is the wrong tool: checked
again and again, `experiments.stats.two_proportion_ztest` finds a "significant"
difference between two identical versions far more often than its alpha (`naive_look`
is that test, kept for the comparison). The guardrail uses a confidence sequence
instead (`experiments.sequential.proportion_difference_cs`: the asymptotic confidence
sequence of Waudby-Smith, Arnold, Wu, Howard and Ramdas, Annals of Statistics 52(6),
2024, arXiv:2103.06476, in GrowthBook's Safe Rollouts form): an interval for
p_canary - p_stable whose chance of ever missing the truth, over every look, is at
most alpha. The canary is declared worse, one-sided, when the lower end is above 0.

Counts are totals since the rollout began (`Observations.totals`), not windows: the
sequence is over all the data so far. Below `min_sample` requests on either side the
guardrail gives no verdict (the sequence is asymptotic; and no traffic is not success).

`sequential_rejects` and `naive_rejects` are the same decisions on arrays of cumulative
counts (one row per simulated canary, one column per look), for A/A simulations.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import norm

from mlcicd_course.experiments.sequential import (
    DEFAULT_TUNING_N,
    halfwidth,
    proportion_difference_cs,
)
from mlcicd_course.experiments.stats import (
    ProportionTest,
    pooled_variance,
    two_proportion_ztest,
    unpooled_variance,
)
from mlcicd_course.rollout.observations import Observations


class Verdict(StrEnum):
    """What the guardrail concludes at one look."""

    TOO_FEW = "too_few"    # below the minimum sample on a side: no verdict
    OK = "ok"              # no evidence that the canary is worse (yet)
    WORSE = "worse"        # the canary's error rate is higher than stable's


@dataclass(frozen=True)
class Guardrail:
    """The sequential error-rate guardrail: `alpha`, the tuning sample `tuning_n` (the
    boundary is tightest there: set it near the requests you expect), and the minimum
    requests per side before any verdict."""

    alpha: float = 0.05
    tuning_n: float = DEFAULT_TUNING_N
    min_sample: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"guardrail alpha must be between 0 and 1, got {self.alpha}")
        if self.tuning_n <= 0 or self.min_sample < 1:
            raise ValueError("guardrail tuning_n must be > 0 and min_sample >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"alpha": self.alpha, "tuning_n": self.tuning_n, "min_sample": self.min_sample}


@dataclass(frozen=True)
class GuardrailCheck:
    """One look: the verdict, the counts behind it and the interval's ends (None: too few)."""

    verdict: Verdict
    errors_stable: int
    n_stable: int
    errors_canary: int
    n_canary: int
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def message(self) -> str:
        """One line for the rollout's history."""
        counts = (f"canary {self.errors_canary}/{self.n_canary} vs stable "
                  f"{self.errors_stable}/{self.n_stable} errors")
        if self.ci_low is None:
            return f"{counts}: too few requests to judge"
        return (f"{counts}: error-rate difference in [{self.ci_low:+.4f}, {self.ci_high:+.4f}]"
                f" ({self.verdict})")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"verdict": str(self.verdict), "errors_stable": self.errors_stable,
                "n_stable": self.n_stable, "errors_canary": self.errors_canary,
                "n_canary": self.n_canary, "ci_low": self.ci_low, "ci_high": self.ci_high}


def check(guardrail: Guardrail, errors_stable: int, n_stable: int, errors_canary: int,
          n_canary: int) -> GuardrailCheck:
    """Look once at cumulative counts: WORSE when the sequence's lower end is above 0."""
    counts = (errors_stable, n_stable, errors_canary, n_canary)
    if min(n_stable, n_canary) < guardrail.min_sample:
        return GuardrailCheck(Verdict.TOO_FEW, *counts)
    cs = proportion_difference_cs(*counts, alpha=guardrail.alpha, tuning_n=guardrail.tuning_n)
    verdict = Verdict.WORSE if cs.ci_low > 0 else Verdict.OK
    return GuardrailCheck(verdict, *counts, ci_low=cs.ci_low, ci_high=cs.ci_high)


def check_observations(guardrail: Guardrail, obs: Observations, stable: str,
                       canary: str) -> GuardrailCheck:
    """`check` on the totals in `obs` (a version without totals counts as no requests)."""
    def counts(version: str) -> tuple[int, int]:
        m = obs.totals.get(version)
        return (0, 0) if m is None else (m.errors, m.requests)
    return check(guardrail, *counts(stable), *counts(canary))


def naive_look(errors_stable: int, n_stable: int, errors_canary: int, n_canary: int, *,
               alpha: float = 0.05) -> tuple[bool, ProportionTest]:
    """The fixed-sample one-sided z-test, as if this look were the only one: (reject, test)."""
    test = two_proportion_ztest(errors_stable, n_stable, errors_canary, n_canary,
                                alternative="larger")
    return test.p_value < alpha, test


def _floats(errors_a: np.ndarray, n_a: np.ndarray, errors_b: np.ndarray,
           n_b: np.ndarray) -> tuple[np.ndarray, ...]:
    arrays = [np.asarray(x, dtype=float) for x in (errors_a, n_a, errors_b, n_b)]
    return tuple(arrays)


def sequential_rejects(errors_stable: Any, n_stable: Any, errors_canary: Any, n_canary: Any,
                       guardrail: Guardrail) -> np.ndarray:
    """`check(...) is WORSE` on arrays of cumulative counts, elementwise (vectorised)."""
    ea, na, eb, nb = _floats(errors_stable, n_stable, errors_canary, n_canary)
    enough = np.minimum(na, nb) >= guardrail.min_sample
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = eb / nb - ea / na
        half = halfwidth(unpooled_variance(ea, na, eb, nb), na + nb, alpha=guardrail.alpha,
                         tuning_n=guardrail.tuning_n)
        return enough & (diff - half > 0)


def naive_rejects(errors_stable: Any, n_stable: Any, errors_canary: Any, n_canary: Any, *,
                  alpha: float = 0.05, min_sample: int = 1) -> np.ndarray:
    """`naive_look(...)[0]` on arrays of cumulative counts, elementwise (vectorised)."""
    ea, na, eb, nb = _floats(errors_stable, n_stable, errors_canary, n_canary)
    enough = np.minimum(na, nb) >= max(1, min_sample)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(pooled_variance(ea, na, eb, nb))
        z = np.where(se > 0, (eb / nb - ea / na) / se, 0.0)
    return enough & (norm.sf(z) < alpha)
