"""Markdown for pull-request comments and job summaries.

`comparison_comment` starts with the hidden line `COMPARISON_MARKER`, so a workflow
can find its own earlier comment on a pull request and update it instead of adding
a new one each push. `comparison_summary` is the longer version for
`$GITHUB_STEP_SUMMARY` (adds slices and confusion matrices). Numbers are printed with
three decimals, deltas with a sign, p-values below 0.001 as "p < 0.001".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlcicd_course.markdown import fmt, fmt_delta, fmt_p, markdown_table

if TYPE_CHECKING:  # the model modules import scikit-learn; data validation needs neither
    from mlcicd_course.comparison import Comparison

COMPARISON_MARKER = "<!-- mlcicd-model-comparison -->"
VALIDATION_MARKER = "<!-- mlcicd-data-validation -->"
MAX_EXAMPLES = 3


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _verdict(passed: bool) -> str:
    return "✅ PASS" if passed else "❌ FAIL"


def _short_sha(sha: str | None) -> str:
    return f"`{sha[:12]}`" if sha else "—"


def _metrics_rows(result: Comparison) -> list[list[str]]:
    from mlcicd_course.evaluation import METRICS

    rows = []
    for metric in METRICS:
        b = result.baseline["metrics"].get(metric)
        c = result.candidate["metrics"].get(metric)
        rows.append([metric, fmt(b), fmt(c), fmt_delta(result.deltas.get(metric))])
    dist_b = result.baseline.get("prediction_distribution", {})
    dist_c = result.candidate.get("prediction_distribution", {})
    if "positive_rate_pred" in dist_b and "positive_rate_pred" in dist_c:
        b, c = dist_b["positive_rate_pred"], dist_c["positive_rate_pred"]
        rows.append(["predicted positive rate", fmt(b), fmt(c), fmt_delta(c - b)])
    return rows


def _gate_rows(result: Comparison) -> list[list[str]]:
    rows = []
    for gate in result.gates:
        if gate.name == "min_accuracy":
            rule, value = f"candidate accuracy >= {fmt(gate.threshold)}", fmt(gate.value)
        else:
            rule, value = f"accuracy drop <= {fmt(gate.threshold)}", fmt(gate.value)
        rows.append([gate.name, rule, value, "pass" if gate.passed else "**fail**"])
    return rows


def _paired_line(result: Comparison) -> str:
    test = result.paired_test
    if test is None:
        return f"**Paired test:** {result.paired_test_note}."
    return (f"**Paired test** (McNemar, {test.method}): {fmt_p(test.p_value)}; "
            f"{test.interpretation()}.")


def _sources(result: Comparison) -> str:
    data = result.candidate.get("data", {})
    parts = [f"Test data: {data.get('rows', '?')} rows, sha256 {_short_sha(data.get('sha256'))}."]
    for name, side in (("Baseline", result.baseline), ("Candidate", result.candidate)):
        model = side.get("model", {})
        parts.append(f"{name}: {model.get('model_type') or 'model'} "
                     f"{_short_sha(model.get('sha256'))}.")
    return " ".join(parts)


def comparison_comment(result: Comparison) -> str:
    """The PR comment: marker, verdict, metrics with deltas, gates, paired test, data."""
    lines = [
        COMPARISON_MARKER,
        f"## Model comparison: {_verdict(result.passed)}",
        "",
        _sentence("; ".join(result.reasons())),
        "",
        markdown_table(["metric", "baseline", "candidate", "delta"], _metrics_rows(result),
                       "lrrr"),
        "",
    ]
    if result.gates:
        lines += [markdown_table(["gate", "rule", "value", "result"], _gate_rows(result),
                                 "llrl"), ""]
    lines += [_paired_line(result), ""]
    lines += [f"> Warning: {w}." for w in result.warnings]
    if result.warnings:
        lines.append("")
    lines.append(_sources(result))
    return "\n".join(lines) + "\n"


def comparison_summary(result: Comparison) -> str:
    """The job summary: the comment's content (no marker) plus slices and confusion."""
    comment = comparison_comment(result).split("\n", 1)[1]
    lines = [comment.rstrip("\n"), ""]
    slices = _slice_rows(result.baseline, result.candidate)
    if slices:
        lines += ["### Accuracy per slice", "",
                  markdown_table(["slice", "rows", "baseline", "candidate", "delta"], slices,
                                 "lrrrr"), ""]
    for name, side in (("baseline", result.baseline), ("candidate", result.candidate)):
        if "confusion" in side:
            lines += [f"### Confusion matrix, {name}", "", confusion_table(side["confusion"]),
                      ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _slice_rows(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[list[str]]:
    base_slices = {(s["column"], s["value"]): s for s in base.get("slices", [])}
    rows = []
    for s in cand.get("slices", []):
        b = base_slices.get((s["column"], s["value"]))
        label = f"{s['column']} = {s['value']}" + (" (small)" if s["small"] else "")
        rows.append([label, s["rows"], fmt(b["accuracy"] if b else None), fmt(s["accuracy"]),
                     fmt_delta(s["accuracy"] - b["accuracy"] if b else None)])
    return rows


def confusion_table(confusion: Mapping[str, Any]) -> str:
    """A confusion matrix as a table: rows are true labels, columns predicted labels."""
    labels = confusion["labels"]
    rows = [[f"true {label}", *counts] for label, counts in zip(labels, confusion["matrix"],
                                                                 strict=True)]
    return markdown_table(["", *[f"predicted {label}" for label in labels]], rows,
                          "l" + "r" * len(labels))


def evaluation_markdown(evaluation: Mapping[str, Any]) -> str:
    """An evaluation (the dict `mlcicd evaluate` writes) as a job-summary section."""
    from mlcicd_course.evaluation import METRICS

    metrics = evaluation["metrics"]
    dist = evaluation["prediction_distribution"]
    model = evaluation.get("model", {})
    lines = [
        "## Model evaluation",
        "",
        f"Model {model.get('model_type') or ''} {_short_sha(model.get('sha256'))} on "
        f"{evaluation['rows']} rows (sha256 {_short_sha(evaluation['data'].get('sha256'))}).",
        "",
        markdown_table(["metric", "value"], [[m, fmt(metrics.get(m))] for m in METRICS], "lr"),
        "",
        f"Positive label {dist['positive_label']!r}: true rate {fmt(dist['positive_rate_true'])},"
        f" predicted rate {fmt(dist['positive_rate_pred'])}.",
        "",
        confusion_table(evaluation["confusion"]),
    ]
    if evaluation.get("slices"):
        rows = [[f"{s['column']} = {s['value']}" + (" (small)" if s["small"] else ""),
                 s["rows"], fmt(s["accuracy"]), fmt(s["positive_rate_true"]),
                 fmt(s["positive_rate_pred"])] for s in evaluation["slices"]]
        lines += ["", markdown_table(["slice", "rows", "accuracy", "true rate",
                                      "predicted rate"], rows, "lrrrr")]
    return "\n".join(lines) + "\n"


def validation_markdown(report: Mapping[str, Any]) -> str:
    """A validation report (ValidationReport.to_dict()) as markdown with a marker."""
    failures = report["failures"]
    status = "✅ valid" if not failures else f"❌ {len(failures)} failure(s)"
    lines = [
        VALIDATION_MARKER,
        f"## Data validation: {status}",
        "",
        f"{report['rows']} rows, {len(report['columns'])} columns, {report['checks_run']} "
        "checks.",
    ]
    if failures:
        rows = []
        for f in failures:
            examples = ", ".join(repr(e) for e in f["examples"][:MAX_EXAMPLES])
            rows.append([f["column"], f["check"], f["expected"], f["found"], examples or "—"])
        lines += ["", markdown_table(["column", "check", "expected", "found", "examples"],
                                     rows)]
    return "\n".join(lines) + "\n"
