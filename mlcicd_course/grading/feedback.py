"""Per-learner feedback (markdown + JSON), a class summary, and GitHub job output.

Feedback shows every check's description, result and hint, hidden checks included (by
description only: their code is never shown), so a learner can see what to fix.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from mlcicd_course.fileio import write_json, write_text_atomic
from mlcicd_course.grading.batch import SubmissionResult
from mlcicd_course.grading.checking import QuestionResult


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def feedback_name(submission: str) -> str:
    """A file name for a submission's feedback: the path with `/` as `__`, no suffix."""
    stem = submission[:-6] if submission.endswith(".ipynb") else submission
    stem = stem.strip("./").replace("/", "__") or "notebook"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)


def _question_markdown(result: QuestionResult) -> list[str]:
    lines = [f"## {result.question} · {result.title}: {_fmt(result.points)}/"
             f"{_fmt(result.max_points)}", ""]
    if result.status != "ok":
        lines += [f"**{result.status}**: {result.reason}", ""]
        if result.traceback:
            lines += ["```", result.traceback, "```", ""]
    for check in result.checks:
        mark = "✓" if check.passed else "✗"
        hidden = " (hidden check)" if check.hidden else ""
        lines.append(f"- {mark} {check.description}{hidden}: {_fmt(check.earned)}/"
                     f"{_fmt(check.points)}")
        if not check.passed and check.message and result.status == "ok":
            lines.extend(f"  > {line}" for line in check.message.splitlines())
    if result.note:
        lines += ["", f"Note: {result.note}"]
    return lines + [""]


def feedback_markdown(result: SubmissionResult) -> str:
    """The feedback page for one submission."""
    lines = [f"# Feedback: {result.submission}", ""]
    if result.exercise:
        lines.append(f"Exercise: {result.exercise}  ")
    if result.checks_digest:
        lines.append(f"Checks: sha256 {result.checks_digest[:16]}  ")
    lines += [f"Total: **{_fmt(result.total)}/{_fmt(result.max_points)}** points, status "
              f"{result.status}", ""]
    if result.reason:
        lines += [f"Note: {result.reason}", ""]
    if result.questions:
        lines += ["| question | points | status |", "|---|---|---|"]
        for q in result.questions:
            lines.append(f"| {q.question} {_cell(q.title)} | {_fmt(q.points)}/"
                         f"{_fmt(q.max_points)} | {q.status} |")
        lines.append("")
    for question in result.questions:
        lines.extend(_question_markdown(question))
    return "\n".join(lines).rstrip() + "\n"


def summary_markdown(results: list[SubmissionResult]) -> str:
    """Class-level view: totals per submission and the pass rate of every check."""
    lines = ["# Grading summary", "", "| submission | exercise | points | status |",
             "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {_cell(r.submission)} | {r.exercise} | {_fmt(r.total)}/"
                     f"{_fmt(r.max_points)} | {r.status} |")
    passes: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for q in r.questions:
            for c in q.checks:
                key = (r.exercise, q.question, c.name, c.description)
                passes[key][0] += int(c.passed)
                passes[key][1] += 1
    if passes:
        lines += ["", "## Pass rate per check", "", "| exercise | question | check | passed |",
                  "|---|---|---|---|"]
        for (ex, qid, _name, description), (ok, total) in sorted(passes.items()):
            lines.append(f"| {ex} | {qid} | {_cell(description)} | {ok}/{total} |")
    return "\n".join(lines) + "\n"


def write_feedback(results: list[SubmissionResult], folder: str | Path) -> list[Path]:
    """Write `<name>.md` and `<name>.json` per submission and `summary.md`; return paths."""
    folder = Path(folder)
    written = []
    for result in results:
        name = feedback_name(result.submission)
        written.append(write_text_atomic(folder / f"{name}.md", feedback_markdown(result)))
        written.append(write_json(folder / f"{name}.json", result.to_dict()))
    written.append(write_text_atomic(folder / "summary.md", summary_markdown(results)))
    return written


def github_report(results: list[SubmissionResult]) -> tuple[str, str]:
    """(workflow-command line for the log, markdown for the job summary) of a run.

    The notice reads `Points X/Y`, the text GitHub Classroom's own reporter writes.
    """
    total = sum(r.total for r in results)
    maximum = sum(r.max_points for r in results)
    notice = f"::notice title=Autograding complete::Points {_fmt(total)}/{_fmt(maximum)}"
    lines = [f"## Autograding: {_fmt(total)}/{_fmt(maximum)} points", ""]
    for result in results:
        lines += [f"### {result.submission}: {_fmt(result.total)}/{_fmt(result.max_points)}",
                  ""]
        for q in result.questions:
            mark = "✓" if q.points == q.max_points and q.status == "ok" else "✗"
            detail = f" ({q.status}: {q.reason})" if q.status != "ok" else ""
            lines.append(f"- {mark} {q.question} {q.title}: {_fmt(q.points)}/"
                         f"{_fmt(q.max_points)}{detail}")
        if result.reason:
            lines.append(f"- note: {result.reason}")
        lines.append("")
    return notice, "\n".join(lines)
