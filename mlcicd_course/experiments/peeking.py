"""A/A simulations: what looking at a fixed-sample test every day does to its false positives.

In an A/A experiment both arms get the same version, so every "significant" result is a
false positive. Looked at once, at the planned end, the two-sided z-test at alpha 0.05
is wrong 5% of the time. Looked at after every batch, stopping at the first p < alpha,
it is wrong far more often, and more so the more looks. A confidence sequence
(`sequential.halfwidth`) stays at or below alpha however often it is looked at.

Every simulated experiment is a row of one numpy array (no Python loop over
experiments), so 10,000 experiments with 30 looks take well under a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm

from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments.sequential import halfwidth
from mlcicd_course.experiments.stats import pooled_variance, unpooled_variance


@dataclass(frozen=True)
class PeekingResult:
    """False-positive rates of `simulations` A/A experiments, each looked at `looks` times."""

    simulations: int
    looks: int
    per_look: int
    p: float
    alpha: float
    final_look_rate: float
    peeking_rate: float
    sequential_rate: float
    peeking_by_look: tuple[float, ...]
    sequential_by_look: tuple[float, ...]

    def to_dict(self) -> dict:
        return asdict(self)


def cumulative_looks(rng: np.random.Generator, simulations: int, looks: int, per_look: int,
                     p_a: float, p_b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Successes per arm so far at each look (arrays simulations x looks), and n per arm."""
    a = rng.binomial(per_look, p_a, size=(simulations, looks)).cumsum(axis=1)
    b = rng.binomial(per_look, p_b, size=(simulations, looks)).cumsum(axis=1)
    return a, b, per_look * np.arange(1, looks + 1)


def simulate_aa(rng: np.random.Generator, *, simulations: int = 2_000, looks: int = 20,
                per_look: int = 250, p: float = 0.5, alpha: float = 0.05,
                tuning_n: float | None = None) -> PeekingResult:
    """Run `simulations` A/A experiments with success rate `p` in both arms.

    Each arm gets `per_look` new units between looks. Returned: the share of
    experiments the two-sided z-test calls significant at the last look only, at ANY
    look (peeking), and the share whose confidence sequence ever excludes 0 (tuned
    for the planned total, `tuning_n`, by default both arms at the last look).
    """
    if simulations < 1 or looks < 1 or per_look < 1:
        raise UserInputError("simulations, looks and per_look must be at least 1")
    if not 0 < p < 1 or not 0 < alpha < 1:
        raise UserInputError("p and alpha must be between 0 and 1")
    a, b, n = cumulative_looks(rng, simulations, looks, per_look, p, p)
    p_a, p_b = a / n, b / n
    null_variance = pooled_variance(a, n, b, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(null_variance > 0, (p_b - p_a) / np.sqrt(null_variance), 0.0)
    fixed_hit = np.abs(z) > norm.ppf(1 - alpha / 2)
    half = halfwidth(unpooled_variance(a, n, b, n), 2 * n, alpha=alpha,
                     tuning_n=tuning_n if tuning_n is not None else 2 * int(n[-1]))
    sequential_hit = np.abs(p_b - p_a) > half
    ever_fixed = np.logical_or.accumulate(fixed_hit, axis=1).mean(axis=0)
    ever_sequential = np.logical_or.accumulate(sequential_hit, axis=1).mean(axis=0)
    return PeekingResult(
        simulations=simulations, looks=looks, per_look=per_look, p=p, alpha=alpha,
        final_look_rate=float(fixed_hit[:, -1].mean()), peeking_rate=float(ever_fixed[-1]),
        sequential_rate=float(ever_sequential[-1]),
        peeking_by_look=tuple(float(x) for x in ever_fixed),
        sequential_by_look=tuple(float(x) for x in ever_sequential))
