"""The promotion rule of a shadow test: "proceed to a canary" or "hold", with reasons.

A shadow test never sends a version to all users: it has only seen copies, never the
consequences of its answers for real users. Passing it earns a canary (a small share
of real traffic, watched and reversible); failing any check holds the version. The
checks, in order, each with its numbers in the reason:

| check | passes when |
|---|---|
| enough data | at least `min_rows` rows were compared |
| shadow failures | shadow error rate <= primary error rate + `max_extra_error_rate` |
| shadow latency | shadow p99 <= `max_p99_ms` |
| agreement | the Wilson lower bound of agreement >= `min_agreement` |
| agreement per segment | the same in every segment with >= `min_segment_rows` rows |
| probability shift | KS distance of the positive-class probabilities <= `max_ks_distance` |
| accuracy (labels joined) | shadow accuracy >= primary accuracy - `max_accuracy_drop` |

Without labels the accuracy check is left out and the reasons say so: agreement alone
cannot tell a better model from a worse one that disagrees as often.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mlcicd_course.markdown import fmt
from mlcicd_course.shadow.analysis import ShadowReport

PROCEED = "proceed to canary"
HOLD = "hold"


@dataclass(frozen=True)
class PromotionPolicy:
    """The thresholds of the promotion rule (see the module docstring)."""

    min_rows: int = 200
    max_extra_error_rate: float = 0.01
    max_p99_ms: float = 250.0
    min_agreement: float = 0.85
    min_segment_rows: int = 50
    max_ks_distance: float = 0.2
    max_accuracy_drop: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """One check of the rule: its name, whether it passed, and the numbers."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The outcome ("proceed to canary" or "hold") and every check behind it."""

    outcome: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = ()

    @property
    def proceed(self) -> bool:
        return self.outcome == PROCEED

    @property
    def reasons(self) -> list[str]:
        """Why it holds (the failed checks), or why it may proceed (all of them)."""
        failed = [c.detail for c in self.checks if not c.passed]
        return failed or [c.detail for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": self.reasons,
                "checks": [c.to_dict() for c in self.checks], "notes": list(self.notes)}

    def text(self) -> str:
        """The outcome, then one line per check (ok / FAIL) and the notes."""
        lines = [f"verdict: {self.outcome}"]
        lines += [f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {c.detail}"
                  for c in self.checks]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def decide(report: ShadowReport, policy: PromotionPolicy | None = None) -> Verdict:
    """Apply the promotion rule to a report (pure: same report, same verdict)."""
    policy = policy or PromotionPolicy()
    agree, primary, shadow = report.agreement, report.primary, report.shadow
    checks = [Check("enough data", agree.rows >= policy.min_rows,
                    f"{agree.rows} rows compared (need >= {policy.min_rows})")]
    extra = (shadow.error_rate or 0.0) - (primary.error_rate or 0.0)
    checks.append(Check(
        "shadow failures", extra <= policy.max_extra_error_rate,
        f"shadow failed {shadow.failed}/{shadow.requests} requests, primary "
        f"{primary.failed}/{primary.requests} ({extra:+.3f}; allowed "
        f"+{policy.max_extra_error_rate:g})"))
    p99 = shadow.p99_ms
    checks.append(Check("shadow latency", p99 is not None and p99 <= policy.max_p99_ms,
                        f"shadow p99 {fmt(p99, 1)} ms (budget {policy.max_p99_ms:g} ms; "
                        f"primary {fmt(primary.p99_ms, 1)} ms)"))
    checks.append(Check("agreement", agree.rows > 0 and agree.low >= policy.min_agreement,
                        f"agreement {agree.text()}: lower bound {fmt(agree.low)} "
                        f"(need >= {policy.min_agreement:g})"))
    weak = [a for parts in report.segments.values() for a in parts
            if a.rows >= policy.min_segment_rows and a.low < policy.min_agreement]
    sized = sum(a.rows >= policy.min_segment_rows for parts in report.segments.values()
                for a in parts)
    checks.append(Check(
        "agreement per segment", not weak,
        "; ".join(f"{a.segment} {a.text()}" for a in weak) + " below the bound" if weak
        else f"all {sized} segments with >= {policy.min_segment_rows} rows have a lower "
             f"bound >= {policy.min_agreement:g}"))
    ks = report.shift.ks_distance
    checks.append(Check("probability shift", ks is None or ks <= policy.max_ks_distance,
                        f"KS distance {fmt(ks)} (at most {policy.max_ks_distance:g}; "
                        f"PSI {fmt(report.shift.psi)})"))
    notes = []
    acc = report.accuracy
    if acc is None or not acc.labelled:
        notes.append("no labels joined: accuracy unknown; agreement cannot tell a better "
                     "model from a worse one")
    else:
        drop = (acc.primary or 0.0) - (acc.shadow or 0.0)
        checks.append(Check(
            "accuracy", drop <= policy.max_accuracy_drop,
            f"on {acc.labelled} labelled rows shadow {fmt(acc.shadow)} vs primary "
            f"{fmt(acc.primary)} (" + (f"may be lower by at most {policy.max_accuracy_drop:g})"
                                       if policy.max_accuracy_drop else "must not be lower)")))
    outcome = PROCEED if all(c.passed for c in checks) else HOLD
    return Verdict(outcome, tuple(checks), tuple(notes))
