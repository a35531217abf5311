"""Data drift: is a current batch distributed like the reference batch?

Building blocks, small pure functions with the formula in each docstring:

- two-sample tests (evidence, depends on n): `ks_test`, `chi_square_test`
- effect sizes (how big the change is): `wasserstein_normalised`, `psi`, `js_distance`
- multiple-testing corrections: `bonferroni`, `benjamini_hochberg`, `adjust_p_values`
- `category_table`: counts per category over the union of both sides

and `detect_drift(reference, current, options)`, which applies them column by column
and returns a `DriftReport` (one row per column plus a dataset verdict that states the
rule it applied) as a DataFrame, a dict/JSON or markdown.

Defaults of `detect_drift` (all in `DriftOptions`, all changeable):

- kind: numeric columns with more than `max_discrete` (5) distinct values are numeric;
  other columns (text, booleans, numeric codes with few values) are categorical.
- every tested column gets a p-value AND an effect size: numeric KS test +
  Wasserstein/std (or PSI); categorical chi-square over the union of categories +
  Jensen-Shannon distance. p-values are adjusted for testing many columns (Bonferroni).
- what decides a column's status (`method="auto"`): with n <= `large_n` (1000)
  non-missing values on the smaller side, the adjusted p-value (p_adj < alpha = 0.05);
  above that, the effect size (Wasserstein/std >= 0.1, PSI >= 0.2, JS >= 0.1), because
  at large n a p-value flags shifts too small to matter.
- a missing rate that moves by more than `missing_tolerance` (5 points) is drift too,
  and so are categories never seen in the reference once they make up more than
  `new_category_share` (1%) of the current values; categories seen on one side only
  are always listed in the column's notes.
- columns with fewer than `min_n` (50) non-missing values on either side are skipped
  with a reason, as are columns that exist on one side only or change type.
- dataset verdict: drift when any tested column drifts (or, with `drift_share`, when
  more than that share of tested columns drift); otherwise "schema change" when a
  column exists on one side only or changes type (a changed table is never "no
  drift"); "inconclusive" when nothing was tested.

Missing means NaN, None or +-inf. Nothing here returns NaN: a statistic that cannot be
computed is None and the row says why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from mlcicd_course.errors import UserInputError
from mlcicd_course.markdown import markdown_table

PSI_EPSILON = 1e-4
_KS_EXACT_MAX_N = 10_000  # scipy's ks_2samp: exact p-values up to this size, asymptotic above
CORRECTIONS = ("bonferroni", "bh", "none")
METHODS = ("auto", "test", "effect", "both")
NUMERIC_EFFECTS = ("wasserstein", "psi")
STATUSES = ("ok", "drift", "skipped")


# --------------------------------------------------------------------------- helpers


def _finite(values: Any) -> np.ndarray:
    """Numeric values as a float array without NaN, None or +-inf."""
    array = pd.to_numeric(pd.Series(values), errors="raise").to_numpy(dtype=float)
    return array[np.isfinite(array)]


def _non_missing(values: Any) -> pd.Series:
    """Values without NaN/None (kept as they are, for categories)."""
    series = pd.Series(values)
    return series[series.notna()].reset_index(drop=True)


def _is_numeric(values: Any) -> bool:
    """True for int/float data (booleans count as categories)."""
    series = pd.Series(values)
    return bool(pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


@dataclass(frozen=True)
class TwoSampleResult:
    """A two-sample test: its name, statistic, p-value and degrees of freedom (if any)."""

    test: str
    statistic: float
    p_value: float
    dof: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


# ----------------------------------------------------------------------------- tests


def ks_test(reference: Any, current: Any) -> TwoSampleResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided) on the non-missing values.

    D = max_x |F_ref(x) - F_cur(x)| over the empirical CDFs; the p-value is scipy's
    `ks_2samp` (exact for samples up to 10,000, asymptotic above). D is also an effect
    size (0 = same distribution, 1 = no overlap). Assumes continuous data: with many
    ties the p-value is conservative. Raises ValueError if a side has no values.
    """
    ref, cur = _finite(reference), _finite(current)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("ks_test needs at least one non-missing value on each side")
    result = stats.ks_2samp(ref, cur)
    return TwoSampleResult("ks", float(result.statistic), float(result.pvalue))


def category_table(reference: Any, current: Any) -> pd.DataFrame:
    """Counts of each category on both sides, over the union of categories.

    Index: every non-missing value seen on either side (as text, sorted); columns
    `reference` and `current` (0 where a category is absent from that side).
    """
    categories, ref_counts, cur_counts = _category_counts(reference, current)
    return pd.DataFrame({"reference": ref_counts, "current": cur_counts},
                        index=pd.Index(categories, name="category"))


def _category_counts(reference: Any, current: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted categories (as text) of both sides and each side's counts of them."""
    ref = _non_missing(reference).astype(str)
    cur = _non_missing(current).astype(str)
    codes, categories = pd.factorize(pd.concat([ref, cur], ignore_index=True), sort=True)
    size = len(categories)
    return (list(categories), np.bincount(codes[: len(ref)], minlength=size),
            np.bincount(codes[len(ref):], minlength=size))


def chi_square_test(reference: Any, current: Any) -> TwoSampleResult:
    """Chi-square test of homogeneity over the union of categories.

    A 2 x K table of counts (rows: reference, current; columns: the K categories seen
    on either side), statistic = sum (observed - expected)^2 / expected with expected =
    row total * column total / N, dof = K - 1, no continuity correction (scipy's
    `chi2_contingency(table, correction=False)`). A category present on one side only
    simply has a 0 in the other row, so it raises the statistic instead of breaking
    the test. With one category on both sides the distributions are equal: statistic
    0, p-value 1, dof 0. Raises ValueError if a side has no values.
    """
    _, ref_counts, cur_counts = _category_counts(reference, current)
    return _chi_square_from_counts(ref_counts, cur_counts)


def _chi_square_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> TwoSampleResult:
    """The homogeneity test on a 2 x K table (the same numbers as `chi2_contingency`)."""
    counts = np.vstack([ref_counts, cur_counts]).astype(float)
    rows = counts.sum(axis=1)
    if rows[0] == 0 or rows[1] == 0:
        raise ValueError("chi_square_test needs at least one non-missing value on each side")
    if counts.shape[1] == 1:
        return TwoSampleResult("chi2", 0.0, 1.0, 0)
    expected = np.outer(rows, counts.sum(axis=0)) / counts.sum()
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    dof = counts.shape[1] - 1
    return TwoSampleResult("chi2", statistic, float(special.chdtrc(dof, statistic)), dof)


# ---------------------------------------------------------------------- effect sizes


def _cdf_gaps(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """KS D and Wasserstein-1 of two sorted, non-empty samples, from one merge.

    Both come from |F_ref - F_cur| on the merged values: D is its maximum, W1 its
    integral. A stable argsort of the two sorted runs is a linear merge; the empirical
    CDFs are running counts, read at the last of each group of tied values (as
    `searchsorted(..., side="right")` would).
    """
    merged = np.concatenate([ref, cur])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    from_ref = order < ref.size
    gap = np.abs(np.cumsum(from_ref) / ref.size - np.cumsum(~from_ref) / cur.size)
    group_end = np.append(values[1:] != values[:-1], True)
    d_statistic = float(gap[group_end].max())
    wasserstein = float(np.sum(gap[:-1] * np.diff(values)))
    return d_statistic, wasserstein


def _ks_from_sorted(ref: np.ndarray, cur: np.ndarray) -> tuple[TwoSampleResult, float]:
    """The KS test (same numbers as `ks_test`) and W1, for sorted finite samples.

    Above 10,000 values on a side the p-value is Smirnov's asymptotic one, as in
    scipy's `ks_2samp`: kstwo.sf(D, round(n*m/(n+m))); below, scipy computes it exactly.
    """
    d_statistic, wasserstein = _cdf_gaps(ref, cur)
    if max(ref.size, cur.size) <= _KS_EXACT_MAX_N:
        return ks_test(ref, cur), wasserstein
    n, m = sorted([float(ref.size), float(cur.size)], reverse=True)
    p_value = float(np.clip(stats.kstwo.sf(d_statistic, np.round(n * m / (n + m))), 0, 1))
    return TwoSampleResult("ks", d_statistic, p_value), wasserstein


def _unit_range(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples divided by their largest absolute value, so that statistics of values
    near 1e200 (whose squares overflow) or 1e-300 (whose squares underflow to 0) are
    computed on numbers near 1. Ranks, W1/std and quantile bins do not change."""
    top = max(float(np.max(np.abs(ref))), float(np.max(np.abs(cur))))
    if top == 0.0 or not math.isfinite(top):
        return ref, cur
    return ref / top, cur / top


def _scale(ref: np.ndarray, cur: np.ndarray) -> float:
    """The reference's std (ddof=0); the pooled std if that is 0; 0 if both are constant."""
    scale = float(np.std(ref))
    if scale == 0.0:
        scale = float(np.std(np.concatenate([ref, cur])))
    return scale


def wasserstein_normalised(reference: Any, current: Any) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation.

    W1 = integral |F_ref(x) - F_cur(x)| dx (the earth mover's distance: for a pure
    shift it equals the shift), divided by sigma = std of the reference (population
    std, ddof=0) so that columns in different units compare: 0.1 means "moved by a
    tenth of a standard deviation". If the reference is constant the pooled std of
    both sides is used; if both sides are the same constant the result is 0. Both are
    computed on the values divided by the largest absolute value (the ratio is the
    same), so values near 1e200 or 1e-300 neither overflow nor underflow.
    Missing values are dropped. Raises ValueError if a side has no values.
    """
    ref, cur = np.sort(_finite(reference)), np.sort(_finite(current))
    if ref.size == 0 or cur.size == 0:
        raise ValueError("wasserstein_normalised needs at least one non-missing value on each side")
    ref, cur = _unit_range(ref, cur)
    scale = _scale(ref, cur)
    return 0.0 if scale == 0.0 else _cdf_gaps(ref, cur)[1] / scale


def quantile_edges(reference: Any, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles 1/bins, ..., (bins-1)/bins.

    numpy's default (linear) quantiles; repeated edges (ties) are merged, so discrete
    data can get fewer bins. The outer bins are open: (-inf, e_1) and [e_last, +inf),
    so current values outside the reference's range still land in a bin.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    ref = _finite(reference)
    if ref.size == 0:
        raise ValueError("quantile_edges needs at least one non-missing reference value")
    return np.unique(np.quantile(ref, np.arange(1, bins) / bins))


def binned_proportions(
    reference: Any, current: Any, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Shares of each side in the same bins: numeric data by `quantile_edges`, else categories.

    Numeric: bin i holds e_(i-1) <= x < e_i with open outer bins. Categorical (or
    boolean) data: one bin per category of the union (`category_table`). Missing
    values are dropped; each returned vector sums to 1.
    """
    if _is_numeric(reference) and _is_numeric(current):
        ref, cur = _finite(reference), _finite(current)
        if ref.size == 0 or cur.size == 0:
            raise ValueError("need at least one non-missing value on each side")
        edges = quantile_edges(ref, bins)
        ref_counts, cur_counts = (
            np.bincount(np.searchsorted(edges, side, side="right"), minlength=edges.size + 1)
            for side in (ref, cur))
    else:
        _, ref_counts, cur_counts = _category_counts(reference, current)
        if ref_counts.sum() == 0 or cur_counts.sum() == 0:
            raise ValueError("need at least one non-missing value on each side")
    return ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()


def psi(reference: Any, current: Any, *, bins: int = 10, eps: float = PSI_EPSILON) -> float:
    """Population stability index over reference-quantile bins (or categories).

    PSI = sum_i (c_i - r_i) * ln(c_i / r_i), natural log, where r_i and c_i are the
    reference and current shares of bin i (`binned_proportions`: `bins` reference
    quantile bins with open outer edges, or one bin per category). A share of 0 is
    replaced by eps = 1e-4 (no renormalisation), so an empty bin gives a large but
    finite term. Common reading: < 0.1 stable, 0.1-0.25 some change, > 0.25 large
    change; a convention, not a test. With no drift PSI is about
    (1/n_ref + 1/n_cur) * (bins - 1), so it is noisy at small n.
    """
    ref_share, cur_share = binned_proportions(reference, current, bins)
    ref_share = np.where(ref_share == 0, eps, ref_share)
    cur_share = np.where(cur_share == 0, eps, cur_share)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def js_distance(reference: Any, current: Any, *, bins: int = 10) -> float:
    """Jensen-Shannon distance (base 2) between the binned distributions of two samples.

    With p, q the shares from `binned_proportions` (categories, or `bins` reference
    quantile bins for numeric data) and m = (p + q) / 2:
    JSD = 1/2 KL(p || m) + 1/2 KL(q || m), KL(p || m) = sum p_i log2(p_i / m_i),
    0 log 0 = 0 (empty bins need no epsilon). The divergence JSD lies in [0, 1]; this
    function returns the distance sqrt(JSD), also in [0, 1] (1 = no overlap). Tools
    differ: scipy's `jensenshannon` defaults to the natural log (max sqrt(ln 2) = 0.83),
    some report the divergence; a threshold only means something with its definition.
    """
    p, q = binned_proportions(reference, current, bins)
    return _js_from_shares(p, q)


def _js_from_shares(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        used = a > 0
        return float(np.sum(a[used] * np.log2(a[used] / m[used])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


# ----------------------------------------------------------- multiple-testing corrections


def _p_array(p_values: Iterable[float]) -> np.ndarray:
    array = np.asarray(list(p_values), dtype=float)
    if np.any(~np.isfinite(array)) or np.any((array < 0) | (array > 1)):
        raise ValueError("p-values must be numbers between 0 and 1")
    return array


def bonferroni(p_values: Iterable[float]) -> np.ndarray:
    """Bonferroni-adjusted p-values: p_adj_i = min(1, m * p_i) for m tests.

    Rejecting where p_adj < alpha keeps the chance of ANY false alarm among the m
    tests (the family-wise error rate) at most alpha.
    """
    array = _p_array(p_values)
    return np.minimum(1.0, array * array.size)


def benjamini_hochberg(p_values: Iterable[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order.

    Sort p ascending as p_(1) <= ... <= p_(m); p_adj_(i) = min over j >= i of
    min(1, m * p_(j) / j). Rejecting where p_adj < q keeps the expected share of false
    alarms among the flagged tests at most q (for independent tests); it flags more
    than Bonferroni when several columns really drift. Same as scipy's
    `false_discovery_control(p, method="bh")`.
    """
    array = _p_array(p_values)
    m = array.size
    if m == 0:
        return array
    order = np.argsort(array, kind="stable")
    scaled = array[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted


def adjust_p_values(p_values: Iterable[float], correction: str = "bonferroni") -> np.ndarray:
    """Adjust p-values with "bonferroni", "bh" (Benjamini-Hochberg) or "none"."""
    if correction == "bonferroni":
        return bonferroni(p_values)
    if correction == "bh":
        return benjamini_hochberg(p_values)
    if correction == "none":
        return _p_array(p_values)
    raise ValueError(f"unknown correction {correction!r}; choose from {', '.join(CORRECTIONS)}")


# ------------------------------------------------------------------------ the report

_CORRECTION_NAMES = {"bonferroni": "Bonferroni-adjusted ", "bh": "Benjamini-Hochberg-adjusted ",
                     "none": ""}
_EFFECT_NAMES = {"wasserstein": "wasserstein/std", "psi": "psi", "js": "js_distance"}


@dataclass(frozen=True)
class DriftOptions:
    """Settings of `detect_drift` (see the module docstring for what each default means).

    columns: compare only these (None = every column of either frame); ignore: leave
    these out (ids, timestamps); categorical: treat these as categories even if numeric.
    method: what decides a column's status: "auto" (p-value up to `large_n`
    non-missing values, effect size above), "test", "effect" or "both" (p-value AND
    effect size). drift_share: None = dataset drift when any tested column drifts; a
    number s = when more than s of the tested columns drift.
    """

    alpha: float = 0.05
    correction: Literal["bonferroni", "bh", "none"] = "bonferroni"
    method: Literal["auto", "test", "effect", "both"] = "auto"
    large_n: int = 1000
    numeric_effect: Literal["wasserstein", "psi"] = "wasserstein"
    wasserstein_threshold: float = 0.1
    psi_threshold: float = 0.2
    js_threshold: float = 0.1
    bins: int = 10
    min_n: int = 50
    max_discrete: int = 5
    max_categories: int = 50
    missing_tolerance: float = 0.05
    new_category_share: float = 0.01
    drift_share: float | None = None
    columns: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("columns", "ignore", "categorical"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, (value,))
            elif value is not None:
                object.__setattr__(self, name, tuple(str(v) for v in value))
        checks = [
            (0 < self.alpha < 1, f"alpha must be between 0 and 1, got {self.alpha}"),
            (self.correction in CORRECTIONS,
             f"unknown correction {self.correction!r}; choose from {', '.join(CORRECTIONS)}"),
            (self.method in METHODS,
             f"unknown method {self.method!r}; choose from {', '.join(METHODS)}"),
            (self.numeric_effect in NUMERIC_EFFECTS,
             f"unknown numeric effect {self.numeric_effect!r}; choose from "
             f"{', '.join(NUMERIC_EFFECTS)}"),
            (min(self.wasserstein_threshold, self.psi_threshold, self.js_threshold) > 0,
             "effect-size thresholds must be positive"),
            (self.bins >= 2, f"bins must be at least 2, got {self.bins}"),
            (self.min_n >= 2, f"min_n must be at least 2, got {self.min_n}"),
            (self.large_n >= 1, f"large_n must be at least 1, got {self.large_n}"),
            (self.max_discrete >= 0, f"max_discrete must be >= 0, got {self.max_discrete}"),
            (self.max_categories >= 2, f"max_categories must be >= 2, got {self.max_categories}"),
            (0 <= self.missing_tolerance <= 1,
             f"missing_tolerance must be between 0 and 1, got {self.missing_tolerance}"),
            (0 <= self.new_category_share <= 1,
             f"new_category_share must be between 0 and 1, got {self.new_category_share}"),
            (self.drift_share is None or 0 <= self.drift_share < 1,
             f"drift_share must be None or in [0, 1), got {self.drift_share}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)

    @classmethod
    def textbook_rule(cls, share: float = 0.3, **overrides: Any) -> DriftOptions:
        """The common heuristic: KS/chi-square p < 0.05 per column, no correction, and
        dataset drift when more than `share` of the columns drift."""
        settings = {"correction": "none", "method": "test", "drift_share": share, **overrides}
        return cls(**settings)

    def threshold(self, kind: str) -> tuple[str, float]:
        """The effect size used for a column kind, and its threshold."""
        if kind == "categorical":
            return _EFFECT_NAMES["js"], self.js_threshold
        if self.numeric_effect == "psi":
            return _EFFECT_NAMES["psi"], self.psi_threshold
        return _EFFECT_NAMES["wasserstein"], self.wasserstein_threshold

    def decided_by(self, n: int) -> str:
        """"test", "effect" or "both": what decides a column with n non-missing values."""
        if self.method == "auto":
            return "test" if n <= self.large_n else "effect"
        return self.method

    def describe(self) -> str:
        """The rule these options apply, as one paragraph."""
        correction = _CORRECTION_NAMES[self.correction]
        test_rule = (f"{correction}p < {self.alpha:g} (KS for numeric, chi-square for "
                     "categorical columns)")
        effect, threshold = self.threshold("numeric")
        effect_rule = (f"{effect} >= {threshold:g} for numeric, js_distance >= "
                       f"{self.js_threshold:g} for categorical columns")
        decision = {
            "auto": f"with n <= {self.large_n} non-missing values: {test_rule}; "
                    f"with more: {effect_rule}",
            "test": test_rule,
            "effect": effect_rule,
            "both": f"{test_rule} AND {effect_rule}",
        }[self.method]
        if self.drift_share is None:
            dataset = "Dataset drift when any tested column drifts."
        else:
            dataset = (f"Dataset drift when more than {self.drift_share:.0%} of the tested "
                       "columns drift.")
        return (f"{dataset} A column drifts when {decision}; or when its missing rate moves "
                f"by more than {self.missing_tolerance * 100:g} points; or when categories "
                f"never seen in the reference make up more than {self.new_category_share:.0%} "
                f"of the current values. Columns with fewer than {self.min_n} non-missing "
                "values on a side are skipped.")


@dataclass(frozen=True)
class FeatureDrift:
    """One column's result: test, p-values, effect size, sizes, missing rates, status.

    Statistics that were not computed are None (never NaN); `reason` says why the
    status is what it is, `notes` lists anything else worth knowing (new categories).
    """

    feature: str
    kind: str
    status: str
    reason: str
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    effect_name: str | None = None
    effect: float | None = None
    threshold: float | None = None
    decided_by: str | None = None
    n_reference: int = 0
    n_current: int = 0
    missing_reference: float | None = None
    missing_current: float | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class DriftReport:
    """The result of `detect_drift`: one `FeatureDrift` per column and the verdict.

    verdict is "drift"; else "schema change" when a column is missing on one side or
    numeric on one side only (`schema_changes`: a changed table is not "no drift",
    whatever the other columns say); else "no drift", or "inconclusive" when no column
    could be tested. `rule` is the rule that produced it, in words.
    """

    features: tuple[FeatureDrift, ...]
    dataset_drift: bool
    verdict: str
    rule: str
    n_reference_rows: int
    n_current_rows: int
    options: DriftOptions = field(default_factory=DriftOptions)
    schema_changes: tuple[str, ...] = ()

    @property
    def drifted(self) -> list[str]:
        """Names of the columns with status "drift"."""
        return [f.feature for f in self.features if f.status == "drift"]

    @property
    def skipped(self) -> list[str]:
        """Names of the columns that could not be tested."""
        return [f.feature for f in self.features if f.status == "skipped"]

    @property
    def summary(self) -> str:
        """One line: verdict, drifted columns, skipped columns."""
        tested = len(self.features) - len(self.skipped)
        text = f"{self.verdict}: {len(self.drifted)} of {tested} tested columns drifted"
        if self.drifted:
            text += f" ({', '.join(self.drifted)})"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped ({', '.join(self.skipped)})"
        if self.schema_changes:
            text += f"; schema changed: {', '.join(self.schema_changes)}"
        return text

    def feature(self, name: str) -> FeatureDrift:
        """The row of one column (KeyError if absent)."""
        for row in self.features:
            if row.feature == name:
                return row
        raise KeyError(name)

    def to_frame(self) -> pd.DataFrame:
        """One row per column; statistics that were not computed are <NA>."""
        frame = pd.DataFrame([f.to_dict() for f in self.features],
                             columns=list(FeatureDrift.__dataclass_fields__))
        for column in ("statistic", "p_value", "p_adjusted", "effect", "threshold",
                       "missing_reference", "missing_current"):
            frame[column] = frame[column].astype("Float64")
        frame["notes"] = frame["notes"].map("; ".join)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): verdict, rule, options and one dict per column."""
        return {
            "dataset_drift": self.dataset_drift,
            "verdict": self.verdict,
            "summary": self.summary,
            "rule": self.rule,
            "n_reference_rows": self.n_reference_rows,
            "n_current_rows": self.n_current_rows,
            "options": asdict(self.options),
            "schema_changes": list(self.schema_changes),
            "features": [f.to_dict() for f in self.features],
        }

    def to_json(self) -> str:
        """`to_dict` as indented, key-sorted JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_markdown(self) -> str:
        """A markdown report (for a PR comment or a job summary)."""
        header = ["column", "kind", "test", "statistic", "p", "p adj", "effect",
                  "missing ref -> cur", "n ref / cur", "status"]
        lines = [
            "## Data drift report",
            "",
            f"**{self.summary}** ({self.n_reference_rows} reference rows, "
            f"{self.n_current_rows} current rows)",
            "",
            f"Rule: {self.rule}",
            "",
        ]
        rows = []
        for f in self.features:
            effect = "-" if f.effect is None else f"{f.effect_name} {_fmt(f.effect)}"
            rows.append([f"`{f.feature}`", f.kind, f.test or "-", _fmt(f.statistic),
                         _fmt_p(f.p_value), _fmt_p(f.p_adjusted), effect,
                         f"{_pct(f.missing_reference)} -> {_pct(f.missing_current)}",
                         f"{f.n_reference} / {f.n_current}", f"**{f.status}**"])
        lines += [markdown_table(header, rows), ""]
        for f in self.features:
            details = [f.reason, *f.notes]
            lines.append(f"- `{f.feature}`: " + "; ".join(d.replace("|", "/") for d in details))
        return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _fmt_p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


# ------------------------------------------------------------------------ detection


@dataclass
class _Column:
    """Work in progress for one column before p-values are adjusted."""

    feature: str
    kind: str
    n_reference: int = 0
    n_current: int = 0
    missing_reference: float | None = None
    missing_current: float | None = None
    test: TwoSampleResult | None = None
    effect_name: str | None = None
    effect: float | None = None
    skip_reason: str | None = None
    schema_change: bool = False  # missing on one side, or numeric on one side only
    flags: list[str] = field(default_factory=list)  # reasons for drift besides the test
    notes: list[str] = field(default_factory=list)


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    options: DriftOptions | None = None,
    **overrides: Any,
) -> DriftReport:
    """Compare every column of `current` with `reference`; return a `DriftReport`.

    `options` (a `DriftOptions`) sets tests, thresholds and the dataset rule; keyword
    `overrides` replace single fields, e.g. `detect_drift(ref, cur, alpha=0.01)`.
    Raises UserInputError for inputs that are not DataFrames, duplicate column names,
    requested columns that do not exist, or no column to compare.
    """
    options = options or DriftOptions()
    if overrides:
        options = replace(options, **overrides)
    reference, current = (_text_columns(name, frame) for name, frame in
                          (("reference", reference), ("current", current)))
    columns = _columns_to_compare(reference, current, options)

    work = [_examine(name, reference, current, options) for name in columns]
    tested = [c for c in work if c.test is not None]
    adjusted = adjust_p_values([c.test.p_value for c in tested], options.correction)
    p_adjusted = {c.feature: float(p) for c, p in zip(tested, adjusted, strict=True)}
    features = tuple(_decide(c, p_adjusted.get(c.feature), options) for c in work)

    n_tested = sum(f.status != "skipped" for f in features)
    n_drift = sum(f.status == "drift" for f in features)
    schema_changes = tuple(c.feature for c in work if c.schema_change)
    if n_tested == 0:
        dataset_drift = False
    elif options.drift_share is None:
        dataset_drift = n_drift > 0
    else:
        dataset_drift = n_drift / n_tested > options.drift_share
    if dataset_drift:
        verdict = "drift"
    elif schema_changes:
        verdict = "schema change"
    else:
        verdict = "no drift" if n_tested else "inconclusive"
    return DriftReport(features, dataset_drift, verdict, options.describe(),
                       int(len(reference)), int(len(current)), options, schema_changes)


def _text_columns(name: str, frame: Any) -> pd.DataFrame:
    """`frame` with its column names as text (`pd.DataFrame(array)` has 0, 1, ...);
    names that are equal as text (1 and "1") are duplicates."""
    if not isinstance(frame, pd.DataFrame):
        raise UserInputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    names = [str(c) for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserInputError(f"{name} has duplicate column names: {', '.join(duplicated)}")
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis(names, axis="columns")


def _columns_to_compare(reference: pd.DataFrame, current: pd.DataFrame,
                        options: DriftOptions) -> list[str]:
    ref_columns = [str(c) for c in reference.columns]
    cur_columns = [str(c) for c in current.columns]
    if options.columns is not None:
        for name in options.columns:
            for side, present in (("reference", ref_columns), ("current", cur_columns)):
                if name not in present:
                    raise UserInputError(
                        f"column {name!r} is not in the {side} data "
                        f"(columns: {', '.join(present) or 'none'})")
        chosen = list(dict.fromkeys(options.columns))
    else:
        chosen = ref_columns + [c for c in cur_columns if c not in ref_columns]
    all_columns = set(ref_columns) | set(cur_columns)
    unknown = [c for c in (*options.ignore, *options.categorical) if c not in all_columns]
    if unknown:
        raise UserInputError(
            f"column {unknown[0]!r} (in ignore/categorical) is in neither data set")
    chosen = [c for c in chosen if c not in options.ignore]
    if not chosen:
        raise UserInputError("no columns left to compare")
    if not set(chosen) & set(ref_columns) & set(cur_columns):
        raise UserInputError(
            "the reference and current data have no column in common (reference: "
            f"{_listed(ref_columns)}; current: {_listed(cur_columns)})")
    return chosen


def _listed(names: list[str], limit: int = 5) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _examine(name: str, reference: pd.DataFrame, current: pd.DataFrame,
             options: DriftOptions) -> _Column:
    """Kind, sizes, missing rates, test and effect size of one column (no decision yet)."""
    in_ref, in_cur = name in reference.columns, name in current.columns
    if not (in_ref and in_cur):
        column = _Column(name, "unknown", schema_change=True)
        side = "current" if in_ref else "reference"
        column.skip_reason = f"column missing from the {side} data"
        return column
    ref_raw, cur_raw = reference[name], current[name]
    ref_numeric, cur_numeric = _is_numeric(ref_raw), _is_numeric(cur_raw)
    ref_present, cur_present = ref_raw.notna(), cur_raw.notna()
    # A side with no values (an empty batch, an all-blank column) takes the other's type.
    if not ref_present.any():
        ref_numeric = cur_numeric
    if not cur_present.any():
        cur_numeric = ref_numeric

    if ref_numeric != cur_numeric:
        column = _Column(name, "unknown", schema_change=True)
        text_side, text = (cur_raw, "current") if ref_numeric else (ref_raw, "reference")
        values = list(text_side[text_side.notna()])
        example = next((v for v in values if not _looks_numeric(v)), values[0])
        number_side = "reference" if ref_numeric else "current"
        column.skip_reason = (f"type mismatch: numeric in the {number_side} data, not numeric "
                              f"in the {text} data (e.g. {str(example)!r})")
        column.missing_reference = _missing_rate(ref_raw.isna())
        column.missing_current = _missing_rate(cur_raw.isna())
        column.n_reference, column.n_current = int(ref_present.sum()), int(cur_present.sum())
        return column

    if ref_numeric and name not in options.categorical:
        ref_values = pd.to_numeric(ref_raw).to_numpy(dtype=float)
        cur_values = pd.to_numeric(cur_raw).to_numpy(dtype=float)
        ref_ok, cur_ok = np.isfinite(ref_values), np.isfinite(cur_values)
        column = _Column(name, "numeric", int(ref_ok.sum()), int(cur_ok.sum()),
                         _missing_rate(~ref_ok), _missing_rate(~cur_ok))
        if min(column.n_reference, column.n_current) < options.min_n:
            column.skip_reason = _too_few(column, options)
            return column
        ref_sorted, cur_sorted = np.sort(ref_values[ref_ok]), np.sort(cur_values[cur_ok])
        if _n_distinct(ref_sorted, cur_sorted, options.max_discrete) <= options.max_discrete:
            column.kind = "categorical"
            column.notes.append(f"numeric with at most {options.max_discrete} distinct values: "
                                "tested as categories")
            return _categorical(column, ref_values[ref_ok], cur_values[cur_ok], options)
        _numeric(column, ref_sorted, cur_sorted, options)
        return column

    ref_missing, cur_missing = ref_raw.isna().to_numpy(), cur_raw.isna().to_numpy()
    column = _Column(name, "categorical", int((~ref_missing).sum()), int((~cur_missing).sum()),
                     _missing_rate(ref_missing), _missing_rate(cur_missing))
    if min(column.n_reference, column.n_current) < options.min_n:
        column.skip_reason = _too_few(column, options)
        return column
    return _categorical(column, ref_raw[~ref_missing], cur_raw[~cur_missing], options)


def _looks_numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _missing_rate(missing: Any) -> float | None:
    missing = np.asarray(missing)
    return None if missing.size == 0 else float(missing.mean())


def _too_few(column: _Column, options: DriftOptions) -> str:
    n = min(column.n_reference, column.n_current)
    side = "reference" if column.n_reference <= column.n_current else "current"
    return f"too few non-missing values to test ({n} in the {side} data, need {options.min_n})"


def _n_distinct(ref_sorted: np.ndarray, cur_sorted: np.ndarray, limit: int) -> int:
    """Distinct values over both sorted arrays (any number above `limit` once it is exceeded)."""
    counts = [1 + int(np.count_nonzero(np.diff(a))) for a in (ref_sorted, cur_sorted)]
    if max(counts) > limit:
        return max(counts)
    return int(np.unique(np.concatenate([np.unique(ref_sorted), np.unique(cur_sorted)])).size)


def _numeric(column: _Column, ref: np.ndarray, cur: np.ndarray, options: DriftOptions) -> None:
    """KS test and the numeric effect size on sorted, finite values (of any magnitude)."""
    ref, cur = _unit_range(ref, cur)
    column.test, wasserstein = _ks_from_sorted(ref, cur)
    column.effect_name, _ = options.threshold("numeric")
    if options.numeric_effect == "psi":
        column.effect = psi(ref, cur, bins=options.bins)
    else:
        scale = _scale(ref, cur)
        column.effect = 0.0 if scale == 0.0 else wasserstein / scale


def _categorical(column: _Column, ref: pd.Series | np.ndarray, cur: pd.Series | np.ndarray,
                 options: DriftOptions) -> _Column:
    """Chi-square test over the union of categories, JS distance, notes on one-sided values."""
    categories, ref_counts, cur_counts = _category_counts(ref, cur)
    if len(categories) > options.max_categories:
        column.skip_reason = (f"too many categories for a category test ({len(categories)} > "
                              f"{options.max_categories}); ignore the column or bin it")
        return column
    column.test = _chi_square_from_counts(ref_counts, cur_counts)
    column.effect_name = _EFFECT_NAMES["js"]
    column.effect = _js_from_shares(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    sides = {"reference": ref_counts, "current": cur_counts}
    for side, other in (("current", "reference"), ("reference", "current")):
        only = np.flatnonzero((sides[side] > 0) & (sides[other] == 0))
        if only.size:
            listed = ", ".join(f"{categories[i]} ({sides[side][i]})" for i in only)
            column.notes.append(f"only in the {side} data: {listed}")
    new_share = float(cur_counts[ref_counts == 0].sum() / cur_counts.sum())
    if new_share > options.new_category_share:
        column.flags.append(f"categories never seen in the reference make up {new_share:.1%} "
                            f"of the current values (more than "
                            f"{options.new_category_share:.0%})")
    if len(categories) == 1:
        column.notes.append("one value on both sides")
    return column


def _decide(column: _Column, p_adjusted: float | None, options: DriftOptions) -> FeatureDrift:
    """Status and reason of one column from its test, effect size and missing rates."""
    reasons: list[str] = []
    drift = False
    m_ref, m_cur = column.missing_reference, column.missing_current
    if m_ref is not None and m_cur is not None and abs(m_cur - m_ref) > options.missing_tolerance:
        drift = True
        reasons.append(f"missing rate moved {m_ref:.1%} -> {m_cur:.1%} "
                       f"(more than {options.missing_tolerance * 100:g} points)")
    if column.flags:
        drift = True
        reasons.extend(column.flags)
    decided_by = threshold = None
    test = column.test
    if test is not None and p_adjusted is not None:
        decided_by = options.decided_by(min(column.n_reference, column.n_current))
        _, threshold = options.threshold(column.kind)
        p_says = p_adjusted < options.alpha
        effect_says = column.effect is not None and column.effect >= threshold
        p_text = (f"{'adjusted ' if options.correction != 'none' else ''}p "
                  f"{_fmt_p(p_adjusted)} {'<' if p_says else '>='} {options.alpha:g}")
        effect_text = (f"{column.effect_name} {column.effect:.3f} "
                       f"{'>=' if effect_says else '<'} {threshold:g}")
        distribution = {"test": p_says, "effect": effect_says,
                        "both": p_says and effect_says}[decided_by]
        shown = {"test": p_text, "effect": effect_text,
                 "both": f"{p_text} and {effect_text}"}[decided_by]
        drift = drift or distribution
        reasons.insert(0, ("distribution changed: " if distribution else "") + shown)
        status = "drift" if drift else "ok"
    elif drift:
        status = "drift"
        reasons.append(column.skip_reason or "not tested")
    else:
        status = "skipped"
        reasons.append(column.skip_reason or "not tested")
    return FeatureDrift(
        feature=column.feature,
        kind=column.kind,
        status=status,
        reason="; ".join(reasons),
        test=test.test if test else None,
        statistic=test.statistic if test else None,
        p_value=test.p_value if test else None,
        p_adjusted=p_adjusted,
        effect_name=column.effect_name,
        effect=column.effect,
        threshold=threshold,
        decided_by=decided_by,
        n_reference=column.n_reference,
        n_current=column.n_current,
        missing_reference=column.missing_reference,
        missing_current=column.missing_current,
        notes=tuple(column.notes),
    )


def drift_table(report: DriftReport) -> pd.DataFrame:
    """A compact view of a report for notebooks: one row per column, numbers as text
    (statistics and effects with 3 decimals, small p-values in scientific notation)."""
    rows = [{
        "column": f.feature,
        "kind": f.kind,
        "test": f.test or "-",
        "statistic": _fmt(f.statistic),
        "p": _fmt_p(f.p_value),
        "p_adj": _fmt_p(f.p_adjusted),
        "effect": "-" if f.effect is None else f"{f.effect_name} {f.effect:.3f}",
        "missing": f"{_pct(f.missing_reference)} -> {_pct(f.missing_current)}",
        "status": f.status,
    } for f in report.features]
    return pd.DataFrame(rows).set_index("column")


__all__ = [
    "DriftOptions", "DriftReport", "FeatureDrift", "TwoSampleResult", "adjust_p_values",
    "benjamini_hochberg", "binned_proportions", "bonferroni", "category_table",
    "chi_square_test", "detect_drift", "drift_table", "js_distance", "ks_test", "psi",
    "quantile_edges", "wasserstein_normalised",
]
