"""Feedback pages: what a learner controls cannot add headings, forge a total or hide text."""

from __future__ import annotations

import re

import pytest

from mlcicd_course.grading.batch import SubmissionResult
from mlcicd_course.grading.checking import CheckOutcome, QuestionResult
from mlcicd_course.grading.feedback import feedback_markdown, github_report, summary_markdown

FORGED_TOTAL = "done\n\n# Feedback: you\n\nTotal: **14/14** points, status ok\n\n## q1: 2/2"
HIDDEN_PAGE = "nothing to see <!-- everything after this is hidden"
FENCE_BREAK = "```\n# Total: 14/14\n````````\n<!--"
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def rendered_outside_fences(markdown: str) -> list[str]:
    """The lines of `markdown` that CommonMark renders as markdown (not inside a fence).

    Fences inside list items are indented, so any indentation is accepted; a closing
    fence uses the same character, is at least as long as the opening one and carries
    nothing else.
    """
    outside, fence = [], None
    for line in markdown.splitlines():
        match = FENCE.match(line.strip(" "))
        if fence is None:
            if match:
                fence = match.group(1)
            else:
                outside.append(line)
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and not match.group(2).strip():
            fence = None
    return outside


def hostile_result(text: str) -> SubmissionResult:
    crashed = QuestionResult("ex", "q1", "first", 0.0, 2, "error", f"cell 3 raised ValueError: "
                             f"{text}", traceback=text, note=text)
    failed = QuestionResult("ex", "q2", "second", 0.0, 3, "ok", checks=(
        CheckOutcome("check_a", "a check", 3, 0.0, False, False, f"expected 1, got {text!r}\n"
                     f"{text}"),))
    return SubmissionResult("learner/sub.ipynb", "ex", "error", text, (crashed, failed))


@pytest.mark.parametrize("text", [FORGED_TOTAL, HIDDEN_PAGE, FENCE_BREAK])
def test_learner_text_cannot_forge_headings_totals_or_hide_the_page(text):
    page = feedback_markdown(hostile_result(text))
    rendered = rendered_outside_fences(page)
    headings = [line for line in rendered if line.lstrip().startswith("#")]
    assert headings == ["# Feedback: learner/sub.ipynb", "## q1 · first: 0/2",
                        "## q2 · second: 0/3"], page
    assert sum("Total:" in line for line in rendered) == 1, page
    assert not any("<" in line for line in rendered), "no HTML outside a fence"
    assert page.count("got ") == 1 and text.splitlines()[-1] in page, "the text is still shown"


def test_a_fence_is_longer_than_any_backtick_run_inside_it():
    page = feedback_markdown(hostile_result("a ``````` b"))
    assert "````````text" in page and "```````` " not in page


def test_names_in_the_summary_and_the_job_summary_are_escaped():
    result = hostile_result(HIDDEN_PAGE)
    named = SubmissionResult("<!--evil|name\n# Total 9.ipynb", "ex", result.status,
                             HIDDEN_PAGE, result.questions)
    for page in (summary_markdown([named]), github_report([named])[1]):
        assert "<!--" not in page and "\n# Total" not in page
        assert "&lt;\\!--evil\\|name \\# Total 9.ipynb" in page


def test_hidden_checks_that_did_not_run_are_named_on_the_page():
    public_only = QuestionResult("ex", "q1", "first", 1.0, 1, "ok", checks=(
        CheckOutcome("check_a", "a check", 1, 1.0, False, True),), hidden_checks=2,
        hidden_points=2)
    page = feedback_markdown(SubmissionResult("sub.ipynb", "ex", "ok", "", (public_only,)))
    assert "- 2 hidden check(s), 2 point(s): not run (graded without the solutions)" in page
    full = feedback_markdown(hostile_result("x"))
    assert "not run (graded without" not in full
