"""Baseline vs candidate on the same test data: deltas, gates, a paired test, a verdict.

Gates (each optional, all must pass):

- minimum: the candidate's accuracy is at least `min_accuracy`;
- maximum regression: candidate accuracy >= baseline accuracy - `max_regression`.

A bare difference of accuracies does not say whether two models really differ: on
1,000 rows, two equally good models often differ by 0.01 by chance. When both sides
are models evaluated on the same rows, McNemar's test looks only at the rows where
exactly one model is right (b: only the baseline is right, c: only the candidate)::

    exact (default):  p = min(1, 2 * P(X <= min(b, c))),  X ~ Binomial(b + c, 1/2)
    chi-square:       statistic = (|b - c| - 1)^2 / (b + c),  p = P(chi2_1 >= statistic)

The test is reported beside the gates; the verdict comes from the gates, and the test
tells a reviewer whether a regression or an improvement is more than noise. Metrics
files (from `mlcicd evaluate`) have no per-row predictions, so with one the paired
test is skipped and the report says so; they must come from the same data (their
data fingerprint is checked).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlcicd_course.errors import UserInputError
from mlcicd_course.evaluation import METRICS, Evaluation, evaluate
from mlcicd_course.fileio import read_json
from mlcicd_course.modelstore import load_model
from mlcicd_course.training import data_fingerprint

DEFAULT_MAX_REGRESSION = 0.02
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class PairedTest:
    """McNemar's test on the rows where the two models disagree about correctness."""

    both_correct: int
    baseline_only: int
    candidate_only: int
    both_wrong: int
    statistic: float
    p_value: float
    method: str
    alpha: float

    @property
    def significant(self) -> bool:
        """p < alpha."""
        return self.p_value < self.alpha

    def interpretation(self) -> str:
        """One sentence: which model is better, or that the difference may be noise."""
        if not self.significant:
            return (f"no significant difference at alpha {self.alpha:g}: the models disagree "
                    f"on {self.baseline_only + self.candidate_only} rows, split "
                    f"{self.baseline_only} (baseline right) vs {self.candidate_only} "
                    "(candidate right)")
        better = "candidate" if self.candidate_only > self.baseline_only else "baseline"
        return (f"the {better} is significantly better (p < {self.alpha:g}): of the "
                f"{self.baseline_only + self.candidate_only} rows where only one model is "
                f"right, the baseline wins {self.baseline_only} and the candidate "
                f"{self.candidate_only}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"test": "mcnemar", "method": self.method, "both_correct": self.both_correct,
                "baseline_only_correct": self.baseline_only,
                "candidate_only_correct": self.candidate_only, "both_wrong": self.both_wrong,
                "statistic": round(self.statistic, 6), "p_value": float(f"{self.p_value:.6g}"),
                "alpha": self.alpha, "significant": self.significant,
                "interpretation": self.interpretation()}


def mcnemar(
    baseline_correct: Any, candidate_correct: Any, *, exact: bool = True,
    alpha: float = DEFAULT_ALPHA,
) -> PairedTest:
    """McNemar's test from two boolean arrays (one entry per row: was the model right?)."""
    base, cand = _paired(baseline_correct, candidate_correct)
    b = int((base & ~cand).sum())
    c = int((~base & cand).sum())
    n = b + c
    if n == 0:
        statistic, p_value = 0.0, 1.0
    elif exact:
        statistic = float(min(b, c))
        p_value = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
    else:
        statistic = (abs(b - c) - 1) ** 2 / n
        p_value = float(stats.chi2.sf(statistic, df=1))
    return PairedTest(
        both_correct=int((base & cand).sum()), baseline_only=b, candidate_only=c,
        both_wrong=int((~base & ~cand).sum()), statistic=float(statistic), p_value=p_value,
        method="exact binomial" if exact else "chi-square with continuity correction",
        alpha=alpha)


def _paired(baseline_correct: Any, candidate_correct: Any) -> tuple[np.ndarray, np.ndarray]:
    base = np.asarray(baseline_correct, dtype=bool)
    cand = np.asarray(candidate_correct, dtype=bool)
    if base.shape != cand.shape or base.ndim != 1:
        raise ValueError(f"need two equally long 1-d arrays, got {base.shape} and {cand.shape}")
    return base, cand


@dataclass(frozen=True)
class DifferenceInterval:
    """A confidence interval for candidate accuracy minus baseline accuracy."""

    difference: float
    low: float
    high: float
    confidence: float

    def non_inferior(self, margin: float) -> bool:
        """Whether the whole interval lies above -margin: the candidate is at most `margin`
        worse, at this confidence."""
        return self.low > -margin

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"difference": self.difference, "low": self.low, "high": self.high,
                "confidence": self.confidence}


def paired_difference_interval(
    baseline_correct: Any, candidate_correct: Any, *, confidence: float = 0.95,
) -> DifferenceInterval:
    """Wald interval for the difference of two accuracies measured on the same rows.

    With n rows, b where only the baseline is right and c where only the candidate is::

        d  = (c - b) / n
        se = sqrt(b + c - (c - b)^2 / n) / n
        interval = d -/+ z * se,  z the standard normal quantile of (1 + confidence) / 2

    It says how large a difference these rows are compatible with, which McNemar's p-value
    does not: "no significant difference" is not "equally good" unless the interval is
    narrow. Like the test, it speaks for the population these rows were drawn from.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    base, cand = _paired(baseline_correct, candidate_correct)
    n = base.size
    if n == 0:
        raise ValueError("need at least one row")
    b = int((base & ~cand).sum())
    c = int((~base & cand).sum())
    difference = (c - b) / n
    se = np.sqrt(max(0.0, b + c - (c - b) ** 2 / n)) / n
    z = float(stats.norm.ppf((1 + confidence) / 2))
    return DifferenceInterval(difference=difference, low=difference - z * se,
                              high=difference + z * se, confidence=confidence)


@dataclass(frozen=True)
class Gate:
    """One pass/fail rule with the numbers it was decided on."""

    name: str
    metric: str
    threshold: float
    value: float
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"name": self.name, "metric": self.metric, "threshold": self.threshold,
                "value": round(self.value, 6), "passed": self.passed, "reason": self.reason}


@dataclass
class Comparison:
    """The result of `compare`: both sides' metrics, deltas, gates, test and verdict."""

    baseline: dict[str, Any]
    candidate: dict[str, Any]
    deltas: dict[str, float | None]
    gates: list[Gate]
    paired_test: PairedTest | None
    paired_test_note: str
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every gate passed."""
        return all(g.passed for g in self.gates)

    @property
    def verdict(self) -> str:
        """"pass" or "fail"."""
        return "pass" if self.passed else "fail"

    def reasons(self) -> list[str]:
        """Why the verdict: the failed gates' reasons, or that all gates passed."""
        failed = [g.reason for g in self.gates if not g.passed]
        if failed:
            return failed
        return ["all gates passed" if self.gates else "no gates were set"]

    def to_dict(self) -> dict[str, Any]:
        """The comparison file that `mlcicd compare` writes."""
        return {
            "kind": "mlcicd-comparison",
            "verdict": self.verdict,
            "reasons": self.reasons(),
            "gates": [g.to_dict() for g in self.gates],
            "deltas": {k: (None if v is None else round(v, 6)) for k, v in self.deltas.items()},
            "paired_test": None if self.paired_test is None else self.paired_test.to_dict(),
            "paired_test_note": self.paired_test_note,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "warnings": list(self.warnings),
        }


def _side(side: Evaluation | Mapping[str, Any], name: str) -> dict[str, Any]:
    data = side.to_dict() if isinstance(side, Evaluation) else dict(side)
    if data.get("kind") != "mlcicd-evaluation" or not isinstance(data.get("metrics"), Mapping):
        raise UserInputError(f"{name} is not an evaluation (expected the output of "
                             "`mlcicd evaluate`)")
    return data


def compare(
    baseline: Evaluation | Mapping[str, Any],
    candidate: Evaluation | Mapping[str, Any],
    *,
    min_accuracy: float | None = None,
    max_regression: float | None = DEFAULT_MAX_REGRESSION,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """Compare two evaluations of the SAME data (checked by fingerprint); apply the gates."""
    if min_accuracy is not None and not 0.0 <= min_accuracy <= 1.0:
        raise UserInputError(f"minimum accuracy must be between 0 and 1, got {min_accuracy}")
    if max_regression is not None and not 0.0 <= max_regression <= 1.0:
        raise UserInputError(f"maximum regression must be between 0 and 1, got {max_regression}")
    if not 0.0 < alpha < 1.0:
        raise UserInputError(f"alpha must be strictly between 0 and 1, got {alpha}")
    base, cand = _side(baseline, "baseline"), _side(candidate, "candidate")
    base_sha = base.get("data", {}).get("sha256")
    cand_sha = cand.get("data", {}).get("sha256")
    if base_sha != cand_sha:
        raise UserInputError(
            "baseline and candidate were evaluated on different data (fingerprints "
            f"{str(base_sha)[:12]} and {str(cand_sha)[:12]}); compare them on the same test set")
    deltas: dict[str, float | None] = {}
    for metric in METRICS:
        b, c = base["metrics"].get(metric), cand["metrics"].get(metric)
        deltas[metric] = None if b is None or c is None else c - b
    b_acc, c_acc = float(base["metrics"]["accuracy"]), float(cand["metrics"]["accuracy"])
    gates = []
    if min_accuracy is not None:
        ok = c_acc >= min_accuracy
        gates.append(Gate("min_accuracy", "accuracy", min_accuracy, c_acc, ok,
                          f"candidate accuracy {c_acc:.3f} "
                          f"{'>=' if ok else '<'} minimum {min_accuracy:.3f}"))
    if max_regression is not None:
        drop = b_acc - c_acc
        ok = drop <= max_regression + 1e-12
        what = f"dropped by {drop:.3f}" if drop > 0 else f"changed by {-drop:+.3f}"
        gates.append(Gate("max_regression", "accuracy", max_regression, drop, ok,
                          f"accuracy {what} vs the baseline "
                          f"({'within' if ok else 'more than'} the allowed {max_regression:.3f})"))
    paired, note = None, ""
    if isinstance(baseline, Evaluation) and isinstance(candidate, Evaluation):
        paired = mcnemar(baseline.correct(), candidate.correct(), alpha=alpha)
        note = paired.interpretation()
    else:
        note = ("skipped: a metrics file has no per-row predictions; pass both models to "
                "get McNemar's test")
    warnings = []
    if cand.get("model", {}).get("training_data_sha256") == cand_sha:
        warnings.append("the candidate was trained on this very test data: its metrics are "
                        "optimistic")
    if base.get("model", {}).get("training_data_sha256") == base_sha:
        warnings.append("the baseline was trained on this very test data: its metrics are "
                        "optimistic")
    return Comparison(baseline=base, candidate=cand, deltas=deltas, gates=gates,
                      paired_test=paired, paired_test_note=note, warnings=warnings)


def evaluation_from(
    path: str | os.PathLike[str], frame: pd.DataFrame, *, what: str = "model",
) -> Evaluation | dict[str, Any]:
    """A model file (evaluated on `frame`) or a metrics JSON (checked to be of `frame`).

    A path ending in .json is read as the output of `mlcicd evaluate`; anything else
    is loaded as a model (sha256 verified) and evaluated.
    """
    path = Path(path)
    if path.suffix.lower() != ".json":
        return evaluate(load_model(path), frame)
    data = read_json(path, what=f"{what} metrics")
    if isinstance(data, Mapping) and "sha256" in data and "format" in data:
        raise UserInputError(f"{path} is a model's metadata file; pass the model file itself")
    if not isinstance(data, Mapping) or data.get("kind") != "mlcicd-evaluation":
        raise UserInputError(f"{path} is not a metrics file written by `mlcicd evaluate`")
    expected = data_fingerprint(frame)["sha256"]
    found = str(data.get("data", {}).get("sha256"))
    if found != expected:
        raise UserInputError(
            f"{path} was computed on other data (fingerprint {found[:12]}) than the test data "
            f"given with --data ({expected[:12]}); evaluate both sides on the same data")
    return dict(data)
