"""Per-learner feedback (markdown + JSON), a class summary, and GitHub job output.

Feedback shows every check's description, result and hint, hidden checks included (by
description only: their code is never shown), so a learner can see what to fix.
Everything a learner controls (exception messages, hints that quote an answer, file
names) is fenced or escaped, so it cannot add headings, forge a total or hide the page.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from pathlib import Path

from mlcicd_course.fileio import write_json, write_text_atomic
from mlcicd_course.grading.batch import SubmissionResult
from mlcicd_course.grading.checking import QuestionResult


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#|~!])")
_BACKTICKS = re.compile(r"`+")


def _inline(text: str) -> str:
    """`text` as one line of literal markdown: no HTML, no emphasis, links or headings."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def fenced(text: str, indent: str = "") -> list[str]:
    """`text` in a code fence that no backtick run inside it can close."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = [f"{indent}{line}" for line in str(text).splitlines()]
    return [f"{indent}{fence}text", *body, f"{indent}{fence}"]


def feedback_name(submission: str) -> str:
    """A file name for a submission's feedback: the path with `/` as `__`, no suffix."""
    stem = submission[:-6] if submission.endswith(".ipynb") else submission
    stem = stem.strip("./").replace("/", "__") or "notebook"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)


def _question_markdown(result: QuestionResult) -> list[str]:
    lines = [f"## {result.question} · {_inline(result.title)}: {_fmt(result.points)}/"
             f"{_fmt(result.max_points)}", ""]
    if result.status != "ok":
        lines += [f"**{result.status}**:", "", *fenced(result.reason), ""]
        if result.traceback:
            lines += [*fenced(result.traceback), ""]
    for check in result.checks:
        mark = "✓" if check.passed else "✗"
        hidden = " (hidden check)" if check.hidden else ""
        lines.append(f"- {mark} {_inline(check.description)}{hidden}: {_fmt(check.earned)}/"
                     f"{_fmt(check.points)}")
        if not check.passed and check.message and result.status == "ok":
            lines.extend(fenced(check.message, indent="  "))
    if result.hidden_checks:
        lines.append(f"- {result.hidden_checks} hidden check(s), {_fmt(result.hidden_points)} "
                     "point(s): not run (graded without the solutions)")
    if result.note:
        lines += ["", "Note:", "", *fenced(result.note)]
    return lines + [""]


def feedback_markdown(result: SubmissionResult) -> str:
    """The feedback page for one submission."""
    lines = [f"# Feedback: {_inline(result.submission)}", ""]
    if result.exercise:
        lines.append(f"Exercise: {_inline(result.exercise)}  ")
    if result.checks_digest:
        lines.append(f"Checks: sha256 {result.checks_digest[:16]}  ")
    lines += [f"Total: **{_fmt(result.total)}/{_fmt(result.max_points)}** points, status "
              f"{result.status}", ""]
    if result.reason:
        lines += ["Note:", "", *fenced(result.reason), ""]
    if result.questions:
        lines += ["| question | points | status |", "|---|---|---|"]
        for q in result.questions:
            lines.append(f"| {q.question} {_inline(q.title)} | {_fmt(q.points)}/"
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
        lines.append(f"| {_inline(r.submission)} | {_inline(r.exercise)} | {_fmt(r.total)}/"
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
            lines.append(f"| {ex} | {qid} | {_inline(description)} | {ok}/{total} |")
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
        lines += [f"### {_inline(result.submission)}: {_fmt(result.total)}/"
                  f"{_fmt(result.max_points)}",
                  ""]
        for q in result.questions:
            mark = "✓" if q.points == q.max_points and q.status == "ok" else "✗"
            detail = f" ({q.status}: {_inline(q.reason)})" if q.status != "ok" else ""
            lines.append(f"- {mark} {q.question} {_inline(q.title)}: {_fmt(q.points)}/"
                         f"{_fmt(q.max_points)}{detail}")
        if result.reason:
            lines.append(f"- note: {_inline(result.reason)}")
        lines.append("")
    return notice, "\n".join(lines)
