"""The analysis of an A/B test from its records, in the order that keeps it honest.

1. One observation per unit (user): `stats.per_unit`; units seen in both arms are
   dropped and counted.
2. Sample-ratio check first (`stats.sample_ratio_check`): p < 0.001 means the
   assignment or the logging is broken, and no result below it can be trusted.
3. Enough units in each arm (`min_units`), else no conclusion.
4. The primary metric: two-sided two-proportion z-test, the absolute lift with its
   interval, the relative lift (delta method), Cohen's h.
5. Guardrails: 0/1 "bad" outcomes (an error, a complaint) that B must not raise,
   each a one-sided test at alpha.

The decision is one of "ship B", "keep A", "no detectable difference", with the
reasons; `valid` is False (and there is no decision) after a sample-ratio mismatch or
with too few units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from mlcicd_course.errors import UserInputError
from mlcicd_course.experiments.stats import (
    ProportionTest,
    RelativeLift,
    SampleRatioCheck,
    cohens_h,
    per_unit,
    relative_lift,
    sample_ratio_check,
    two_proportion_ztest,
)

MIN_UNITS = 100


@dataclass(frozen=True)
class Guardrail:
    """A 0/1 outcome B must not make worse: the one-sided test of p_B > p_A."""

    metric: str
    test: ProportionTest
    alpha: float

    @property
    def failed(self) -> bool:
        return self.test.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "failed": self.failed, **self.test.to_dict()}


@dataclass(frozen=True)
class ABAnalysis:
    """Everything an A/B decision rests on, and the decision with its reasons."""

    control: str
    treatment: str
    outcome: str
    units: dict[str, int]
    mixed_units: int
    srm: SampleRatioCheck
    valid: bool
    decision: str
    reasons: tuple[str, ...]
    test: ProportionTest | None = None
    lift: RelativeLift | None = None
    effect_size_h: float | None = None
    guardrails: tuple[Guardrail, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(srm=self.srm.to_dict(), reasons=list(self.reasons),
                    guardrails=[g.to_dict() for g in self.guardrails])
        return data

    def lines(self) -> list[str]:
        """The report as short lines of text (what `mlcicd ab analyze` prints)."""
        out = [f"units: {', '.join(f'{k}={v}' for k, v in self.units.items())}"
               f" ({self.mixed_units} in both arms, left out)",
               f"sample-ratio check: chi2 = {self.srm.chi2:.3f}, p = {self.srm.p_value:.4g}"
               f" ({'MISMATCH' if self.srm.mismatch else 'ok'})"]
        if self.test is not None:
            t = self.test
            out.append(f"{self.outcome}: {self.control} {t.p_a:.4f} vs {self.treatment} "
                       f"{t.p_b:.4f}, z = {t.z:.3f}, p = {t.p_value:.4g}, Cohen's h "
                       f"{self.effect_size_h:+.3f}")
            out.append(f"absolute lift {t.difference:+.4f} [{t.ci_low:+.4f}, {t.ci_high:+.4f}]")
        if self.lift is not None:
            out.append(f"relative lift {self.lift.lift:+.2%} [{self.lift.ci_low:+.2%}, "
                       f"{self.lift.ci_high:+.2%}]")
        out += [f"guardrail {g.metric}: {g.test.p_a:.4f} vs {g.test.p_b:.4f}, one-sided "
                f"p = {g.test.p_value:.4g} ({'FAILED' if g.failed else 'ok'})"
                for g in self.guardrails]
        out.append(f"decision: {self.decision}" if self.valid else "result: INVALID")
        out += [f"  - {reason}" for reason in self.reasons]
        return out


def analyze(frame: pd.DataFrame, *, unit: str, variant: str, outcome: str,
            control: str | None = None, guardrails: Sequence[str] = (),
            shares: Mapping[str, float] | None = None, alpha: float = 0.05,
            min_units: int = MIN_UNITS) -> ABAnalysis:
    """Analyse a two-arm experiment from one row per event (or per unit).

    `control` is arm A (default: the first variant name in sorted order); `shares`
    the planned split (default: equal).
    """
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must be between 0 and 1, got {alpha}")
    primary = per_unit(frame, unit, variant, outcome)
    arms = sorted(primary.units[variant].unique())
    if len(arms) != 2:
        raise UserInputError(f"column {variant!r} must hold exactly two variants, got "
                             f"{len(arms)}: {', '.join(arms[:5])}")
    if control is not None and control not in arms:
        raise UserInputError(f"control {control!r} is not a variant; variants: "
                             f"{', '.join(arms)}")
    a = control or arms[0]
    b = arms[1] if a == arms[0] else arms[0]
    by_arm = primary.units.groupby(variant)[outcome].agg(["sum", "size"])
    units = {arm: int(by_arm.loc[arm, "size"]) for arm in (a, b)}
    srm = sample_ratio_check(units, shares)
    common = {"control": a, "treatment": b, "outcome": outcome, "units": units,
              "mixed_units": primary.mixed_units, "srm": srm}
    if srm.mismatch:
        return ABAnalysis(**common, valid=False, decision="", reasons=(
            f"sample-ratio mismatch (p = {srm.p_value:.2g} < {srm.threshold}): the "
            "assignment or the logging is broken; find the cause, do not read the results",))
    small = [arm for arm in (a, b) if units[arm] < min_units]
    if small:
        return ABAnalysis(**common, valid=False, decision="", reasons=(
            f"too few units in {', '.join(small)} (fewer than {min_units}): no conclusion",))
    s_a, s_b = int(by_arm.loc[a, "sum"]), int(by_arm.loc[b, "sum"])
    test = two_proportion_ztest(s_a, units[a], s_b, units[b], confidence=1 - alpha)
    checks = tuple(_guardrail(frame, unit, variant, metric, a, b, alpha)
                   for metric in guardrails)
    decision, reasons = _decide(test, checks, alpha, a, b)
    return ABAnalysis(**common, valid=True, decision=decision, reasons=reasons, test=test,
                      lift=relative_lift(s_a, units[a], s_b, units[b], confidence=1 - alpha)
                      if s_a else None,
                      effect_size_h=cohens_h(test.p_a, test.p_b), guardrails=checks)


def _guardrail(frame: pd.DataFrame, unit: str, variant: str, metric: str, a: str, b: str,
               alpha: float) -> Guardrail:
    per = per_unit(frame, unit, variant, metric).units.groupby(variant)[metric]
    sums, sizes = per.sum(), per.size()
    test = two_proportion_ztest(int(sums.get(a, 0)), int(sizes.get(a, 0)),
                                int(sums.get(b, 0)), int(sizes.get(b, 0)),
                                alternative="larger", confidence=1 - alpha)
    return Guardrail(metric=metric, test=test, alpha=alpha)


def _decide(test: ProportionTest, guardrails: Sequence[Guardrail], alpha: float, a: str,
            b: str) -> tuple[str, tuple[str, ...]]:
    failed = [g.metric for g in guardrails if g.failed]
    significant = test.p_value < alpha
    if failed:
        return f"keep {a}", (f"guardrail {', '.join(failed)} worse in {b}",)
    if significant and test.difference > 0:
        return f"ship {b}", (f"{b} is better: p = {test.p_value:.2g} < {alpha}, interval "
                             "above 0",)
    if significant:
        return f"keep {a}", (f"{b} is worse: p = {test.p_value:.2g} < {alpha}, interval "
                             "below 0",)
    return "no detectable difference", (
        f"p = {test.p_value:.2g} >= {alpha}: the interval [{test.ci_low:+.4f}, "
        f"{test.ci_high:+.4f}] holds 0; keep {a} unless the plan says otherwise",)
