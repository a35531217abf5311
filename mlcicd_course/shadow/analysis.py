"""What a shadow log says: do the versions agree, where not, how fast, how often they fail.

`analyze(records, labels)` compares the primary and the shadow on the same requests:

- agreement: the share of rows where both predicted the same class, with a Wilson
  interval, overall and per segment (a categorical input column);
- the shift of the predicted probability of the positive class (the last class):
  means, the Kolmogorov-Smirnov distance and the PSI between the two versions;
- latency (p50, p99) and failures of each version;
- accuracy of each on the rows whose labels have arrived (joined by request id and
  row), with McNemar's paired test, since both answered the very same rows.

A log row is one predicted row: a request with a batch of 5 rows gives 5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlcicd_course import drift
from mlcicd_course.comparison import PairedTest, mcnemar
from mlcicd_course.errors import UserInputError
from mlcicd_course.markdown import fmt, fmt_delta, fmt_p
from mlcicd_course.shadow.log import ShadowRecord

CONFIDENCE = 0.95
LABEL_COLUMNS = ("request_id", "label")
OWN_COLUMNS = ("request_id", "row", "time", "primary_prediction", "primary_score",
               "shadow_prediction", "shadow_score")


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE,
                    ) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n.

    With p = k/n and z the normal quantile for `confidence` (1.96 for 95%)::

        centre    = (p + z²/2n) / (1 + z²/n)
        halfwidth = z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²)

    It is the set of proportions that a score test at that level does not reject, so
    unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is not zero-width at k = 0
    or k = n. n = 0 gives (0, 1): nothing is known.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    halfwidth = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - halfwidth)
    high = 1.0 if successes == n else min(1.0, centre + halfwidth)
    return low, high


@dataclass(frozen=True)
class Agreement:
    """How often the two versions predicted the same class, with a Wilson interval."""

    rows: int
    agreed: int
    low: float
    high: float
    segment: str = ""

    @property
    def rate(self) -> float | None:
        return self.agreed / self.rows if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}

    def text(self) -> str:
        """`0.931 [0.912, 0.946] (n=600)`."""
        return f"{fmt(self.rate)} [{fmt(self.low)}, {fmt(self.high)}] (n={self.rows})"


def agreement(frame: pd.DataFrame, segment: str = "") -> Agreement:
    """Agreement over the rows of `frame` where both versions gave a prediction."""
    both = frame.dropna(subset=["primary_prediction", "shadow_prediction"])
    agreed = int((both["primary_prediction"] == both["shadow_prediction"]).sum())
    return Agreement(len(both), agreed, *wilson_interval(agreed, len(both)), segment=segment)


def agreement_by_segment(frame: pd.DataFrame, column: str) -> list[Agreement]:
    """Agreement per value of `column` (missing values form their own segment, "<missing>")."""
    if column not in frame:
        raise UserInputError(f"segment column {column!r} is not in the logged inputs; "
                             f"columns: {', '.join(input_columns(frame)) or '(none)'}")
    values = frame[column].astype(object).where(frame[column].notna(), "<missing>").astype(str)
    return [agreement(part, f"{column}={value}")
            for value, part in frame.groupby(values, sort=True)]


@dataclass(frozen=True)
class ProbabilityShift:
    """How the predicted probability of the positive class moved from primary to shadow."""

    rows: int
    positive_class: str
    primary_mean: float | None
    shadow_mean: float | None
    ks_distance: float | None
    ks_p_value: float | None
    psi: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probability_shift(frame: pd.DataFrame, positive_class: str = "") -> ProbabilityShift:
    """Means, KS distance and PSI of the two versions' positive-class probabilities."""
    both = frame.dropna(subset=["primary_score", "shadow_score"])
    if both.empty:
        return ProbabilityShift(0, positive_class, None, None, None, None, None)
    ks = drift.ks_test(both["primary_score"], both["shadow_score"])
    return ProbabilityShift(len(both), positive_class, float(both["primary_score"].mean()),
                            float(both["shadow_score"].mean()), ks.statistic, ks.p_value,
                            drift.psi(both["primary_score"], both["shadow_score"]))


@dataclass(frozen=True)
class SideStats:
    """One version's requests: how many, how many failed, latency percentiles in ms."""

    version: str
    requests: int
    failed: int
    p50_ms: float | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


def side_stats(requests: pd.DataFrame, side: str) -> SideStats:
    """Failures and latency of `side` ("primary" or "shadow") over the logged requests."""
    latency = requests[f"{side}_ms"].dropna().to_numpy(dtype=float)
    p50, p99 = (float(np.percentile(latency, q)) if latency.size else None for q in (50, 99))
    versions = sorted(set(requests[f"{side}_version"]))
    return SideStats(", ".join(versions), len(requests), int(requests[f"{side}_failed"].sum()),
                     p50, p99)


@dataclass(frozen=True)
class AccuracyComparison:
    """Accuracy of both versions on the rows whose labels arrived, and the paired test."""

    labelled: int
    unmatched_labels: int
    primary: float | None
    shadow: float | None
    paired: PairedTest | None

    @property
    def difference(self) -> float | None:
        """shadow - primary."""
        return None if self.primary is None or self.shadow is None else self.shadow - self.primary

    def to_dict(self) -> dict[str, Any]:
        return {"labelled": self.labelled, "unmatched_labels": self.unmatched_labels,
                "primary": self.primary, "shadow": self.shadow, "difference": self.difference,
                "paired": None if self.paired is None else self.paired.to_dict()}


def accuracy(frame: pd.DataFrame, labels: pd.DataFrame) -> AccuracyComparison:
    """Join `labels` (request_id, label, optional row) to the rows; compare correctness."""
    labels = check_labels(labels)
    keyed = frame.assign(row=frame["row"].astype(int))
    joined = keyed.merge(labels, on=["request_id", "row"], how="inner")
    joined = joined.dropna(subset=["primary_prediction", "shadow_prediction"])
    unmatched = len(labels) - len(keyed.merge(labels, on=["request_id", "row"]))
    if joined.empty:
        return AccuracyComparison(0, unmatched, None, None, None)
    truth = joined["label"].astype(str)
    primary_right = (joined["primary_prediction"] == truth).to_numpy()
    shadow_right = (joined["shadow_prediction"] == truth).to_numpy()
    return AccuracyComparison(len(joined), unmatched, float(primary_right.mean()),
                              float(shadow_right.mean()), mcnemar(primary_right, shadow_right))


def check_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Labels as (request_id, row, label) text; one-line `UserInputError` when malformed."""
    missing = [name for name in LABEL_COLUMNS if name not in labels]
    if missing:
        raise UserInputError(f"labels need the columns request_id and label (row is "
                             f"optional); missing: {', '.join(missing)}")
    out = pd.DataFrame({"request_id": labels["request_id"].astype(str),
                        "row": labels["row"] if "row" in labels else 0,
                        "label": labels["label"]})
    if out["label"].isna().any():
        raise UserInputError(f"labels: {int(out['label'].isna().sum())} empty label(s)")
    rows = pd.to_numeric(out["row"], errors="coerce")
    if rows.isna().any() or (rows < 0).any() or (rows % 1 != 0).any():
        raise UserInputError("labels: the row column must hold whole numbers >= 0")
    out["row"] = rows.astype(int)
    duplicated = out.duplicated(["request_id", "row"])
    if duplicated.any():
        first = out[duplicated].iloc[0]
        raise UserInputError(f"labels: request {first['request_id']} row {first['row']} "
                             "is labelled more than once")
    out["label"] = out["label"].map(_class_text)
    return out


def _class_text(value: Any) -> str:
    """A class as text, the same for 1, 1.0 and "1" (CSV readers guess types)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def rows_frame(records: Sequence[ShadowRecord]) -> pd.DataFrame:
    """One row per predicted row: request id, row, both predictions and positive-class
    probabilities (as text and floats; missing when a version gave none), the inputs."""
    out: list[dict[str, Any]] = []
    for record in records:
        count = len(record.inputs) if record.inputs is not None else max(
            len(record.primary.predictions or []), len(record.shadow.predictions or []))
        for row in range(count):
            item: dict[str, Any] = {"request_id": record.id, "row": row, "time": record.time}
            for side, answer in (("primary", record.primary), ("shadow", record.shadow)):
                predictions, probabilities = answer.predictions or [], answer.probabilities or []
                item[f"{side}_prediction"] = (_class_text(predictions[row])
                                              if row < len(predictions) else None)
                item[f"{side}_score"] = (float(probabilities[row][-1])
                                         if row < len(probabilities) else None)
            if record.inputs is not None:
                item.update({name: value for name, value in record.inputs[row].items()
                             if name not in OWN_COLUMNS})
            out.append(item)
    return pd.DataFrame(out, columns=None if out else list(OWN_COLUMNS))


def input_columns(frame: pd.DataFrame) -> list[str]:
    """The logged input columns of a `rows_frame`."""
    return [name for name in frame.columns if name not in OWN_COLUMNS]


def requests_frame(records: Sequence[ShadowRecord]) -> pd.DataFrame:
    """One row per mirrored request: versions, statuses, latencies, failures, error.

    A version failed a request when it gave no answer (status 0: timeout, refused) or
    answered 5xx. A shadow whose answer could not be read also failed; a 4xx on both
    sides is the request's fault, not the shadow's.
    """
    out = []
    for record in records:
        primary, shadow = record.primary, record.shadow
        shadow_failed = record.error is not None and not (
            400 <= shadow.status < 500 and shadow.status == primary.status)
        out.append({"request_id": record.id, "time": record.time,
                    "primary_version": primary.version, "shadow_version": shadow.version,
                    "primary_status": primary.status, "shadow_status": shadow.status,
                    "primary_ms": primary.latency_ms, "shadow_ms": shadow.latency_ms,
                    "primary_failed": primary.status == 0 or primary.status >= 500,
                    "shadow_failed": shadow_failed, "error": record.error})
    return pd.DataFrame(out, columns=[
        "request_id", "time", "primary_version", "shadow_version", "primary_status",
        "shadow_status", "primary_ms", "shadow_ms", "primary_failed", "shadow_failed",
        "error"])


@dataclass(frozen=True)
class ShadowReport:
    """Everything `analyze` found, ready for the promotion rule and for printing."""

    requests: int
    rows: int
    agreement: Agreement
    segments: Mapping[str, list[Agreement]]
    shift: ProbabilityShift
    primary: SideStats
    shadow: SideStats
    accuracy: AccuracyComparison | None
    errors: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "rows": self.rows,
                "agreement": self.agreement.to_dict(),
                "segments": {name: [a.to_dict() for a in parts]
                             for name, parts in self.segments.items()},
                "probability_shift": self.shift.to_dict(),
                "primary": self.primary.to_dict(), "shadow": self.shadow.to_dict(),
                "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
                "shadow_errors": dict(self.errors)}

    def text(self) -> str:
        """A few lines for a terminal or a notebook."""
        p, s = self.primary, self.shadow
        lines = [
            f"{self.requests} mirrored requests, {self.rows} rows; primary {p.version}, "
            f"shadow {s.version}",
            f"agreement      {self.agreement.text()}",
        ]
        for parts in self.segments.values():
            lines += [f"  {a.segment:<22} {a.text()}" for a in parts]
        shift = self.shift
        if shift.rows:
            lines.append(f"P({shift.positive_class or 'positive'})  primary mean "
                         f"{fmt(shift.primary_mean)}, shadow mean {fmt(shift.shadow_mean)}, "
                         f"KS {fmt(shift.ks_distance)}, PSI {fmt(shift.psi)}")
        for name, side in (("primary", p), ("shadow", s)):
            lines.append(f"{name:<8} failed {side.failed}/{side.requests}, latency p50 "
                         f"{fmt(side.p50_ms, 1)} ms, p99 {fmt(side.p99_ms, 1)} ms")
        if self.errors:
            lines.append("shadow errors: " + ", ".join(f"{k} x{v}" for k, v in
                                                        sorted(self.errors.items())))
        acc = self.accuracy
        if acc is not None and acc.labelled:
            assert acc.paired is not None
            lines.append(f"accuracy on {acc.labelled} labelled rows: primary "
                         f"{fmt(acc.primary)}, shadow {fmt(acc.shadow)} "
                         f"({fmt_delta(acc.difference)}; McNemar {fmt_p(acc.paired.p_value)})")
        elif acc is not None:
            lines.append("accuracy: no label matches a logged row")
        return "\n".join(lines)


def analyze(records: Sequence[ShadowRecord], labels: pd.DataFrame | None = None,
            segments: Sequence[str] | None = None, *,
            classes: Sequence[Any] | None = None) -> ShadowReport:
    """Compare primary and shadow over the records (see the module docstring).

    `segments` defaults to the running example's categorical columns that were
    logged; `classes` names the classes in probability order (for the report only).
    """
    if not records:
        raise UserInputError("the shadow log has no records: nothing was mirrored yet")
    frame = rows_frame(records)
    requests = requests_frame(records)
    if segments is None:
        from mlcicd_course.datasets import CATEGORICAL_FEATURES
        segments = [name for name in CATEGORICAL_FEATURES if name in frame]
    positive = "" if not classes else str(classes[-1])
    errors = requests.loc[requests["shadow_failed"], "error"].map(_error_kind).value_counts()
    return ShadowReport(
        requests=len(requests), rows=len(frame), agreement=agreement(frame),
        segments={name: agreement_by_segment(frame, name) for name in segments},
        shift=probability_shift(frame, positive),
        primary=side_stats(requests, "primary"), shadow=side_stats(requests, "shadow"),
        accuracy=None if labels is None else accuracy(frame, labels),
        errors={str(k): int(v) for k, v in errors.items()})


def _error_kind(error: str) -> str:
    """`timeout: ...` -> `timeout`; `HTTP 500` stays."""
    return error if error.startswith("HTTP ") else error.split(":", 1)[0]
