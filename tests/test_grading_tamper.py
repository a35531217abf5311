"""Tampered and damaged submissions never earn a point they should not, and never stop
the batch. Fixtures: tests/fixtures/grading/submissions (variants of a right answer to
the fixture exercise in tests/fixtures/grading/solutions)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlcicd_course.grading.batch import grade_batch, grades_csv
from mlcicd_course.grading.runner import ForkLauncher, Limits, SpawnLauncher
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "grading"
FULL = {"q1": 2, "q2": 3, "q3": 2, "q4": 1}
# submission -> (points per question, status per question that is not "ok", overall status)
EXPECTED = {
    "good": (FULL, {}, "ok"),
    "warnings_ok": (FULL, {}, "ok"),
    "split_cells": (FULL, {}, "ok"),
    "renamed_no_exercise_line": (FULL, {}, "ok"),
    "exit_sys": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "exit_os": ({**FULL, "q2": 0, "q4": 0}, {"q2": "error", "q4": "error"}, "error"),
    "hang_code": ({**FULL, "q1": 0}, {"q1": "timeout"}, "timeout"),
    "hang_check": ({**FULL, "q3": 0}, {"q3": "timeout"}, "timeout"),
    "fake_output": ({**FULL, "q1": 0}, {}, "ok"),
    "monkeypatch": ({"q1": 0, "q2": 0, "q3": 0, "q4": 0}, {"q1": "error"}, "error"),
    "deletes_files": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "memory_hog": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "syntax_error": ({**FULL, "q2": 0, "q4": 0}, {"q2": "error", "q4": "error"}, "error"),
    "kills_parent": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "starts_program": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "junk_channel": ({**FULL, "q1": 0}, {"q1": "error"}, "error"),
    "missing_question": ({**FULL, "q2": 0, "q4": 0}, {"q2": "missing", "q4": "missing"},
                         "missing"),
    "deleted_cell": ({**FULL, "q2": 0, "q4": 0}, {"q2": "missing", "q4": "missing"}, "missing"),
    "duplicated_cells": ({**FULL, "q1": 0}, {"q1": "malformed"}, "malformed"),
    "truncated": ({q: 0 for q in FULL}, {q: "malformed" for q in FULL}, "malformed"),
    "not_a_notebook": ({q: 0 for q in FULL}, {q: "malformed" for q in FULL}, "malformed"),
    "empty": ({q: 0 for q in FULL}, {q: "malformed" for q in FULL}, "malformed"),
}
REASONS = {
    ("exit_sys", "q1"): "sys.exit(0)",
    ("exit_os", "q2"): "stopped before grading finished",
    ("hang_code", "q1"): "time limit of 3 s",
    ("hang_check", "q3"): "waited too long",
    ("deletes_files", "q1"): "grading does not allow",
    ("syntax_error", "q2"): "SyntaxError",
    ("starts_program", "q1"): "starting other programs",
    ("missing_question", "q2"): "BEGIN QUESTION q2",
    ("duplicated_cells", "q1"): "appears 2 times",
    ("truncated", "q1"): "not valid JSON",
}
if os.name == "posix":  # memory limits and signals are POSIX features
    REASONS[("memory_hog", "q1")] = "MemoryError: it needs more than the 2048 MB"
    REASONS[("kills_parent", "q1")] = "signalling other processes"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a copy of every fixture submission once (the delete target is that copy)."""
    root = tmp_path_factory.mktemp("batch")
    shutil.copytree(FIXTURES / "submissions", root / "submissions")
    shutil.copytree(FIXTURES / "solutions", root / "solutions")
    deleter = root / "submissions" / "deletes_files.ipynb"
    deleter.write_text(deleter.read_text(encoding="utf-8").replace("__TARGET__", root.as_posix()),
                       encoding="utf-8")
    launcher = (ForkLauncher(preload=("mlcicd_course.grading.child",)) if os.name == "posix"
                else SpawnLauncher())
    try:
        results = grade_batch([root / "submissions"], source=root / "solutions", jobs=2,
                              limits=Limits(timeout=3), launcher=launcher)
    finally:
        launcher.close()
    return root, {Path(r.submission).stem: r for r in results}


def test_every_fixture_is_graded(graded):
    _, results = graded
    assert sorted(results) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_points_and_statuses(graded, name):
    _, results = graded
    points, statuses, overall = EXPECTED[name]
    result = results[name]
    assert {q.question: q.points for q in result.questions} == points
    assert {q.question: q.status for q in result.questions if q.status != "ok"} == statuses
    assert result.status == overall
    assert result.max_points == 8
    for question in result.questions:
        if question.status != "ok":
            assert question.points == 0 and question.reason, "a failure states its reason"
            assert all(not c.passed and c.earned == 0 for c in question.checks)
        if (name, question.question) in REASONS:
            assert REASONS[(name, question.question)] in question.reason


def test_no_tampered_question_scores_more_than_the_same_wrong_answer(graded):
    _, results = graded
    tampered = ["exit_sys", "exit_os", "hang_code", "hang_check", "fake_output", "monkeypatch",
                "deletes_files", "memory_hog", "kills_parent", "starts_program", "junk_channel"]
    earned = {name: results[name].total for name in tampered}
    assert all(earned[name] <= 8 - 1 for name in tampered), earned
    assert results["monkeypatch"].total == 0, "patching the checker must not help"
    assert results["fake_output"].questions[0].points == 0, "printing PASSED must not help"


def test_a_submission_that_deletes_files_harms_nothing(graded):
    root, results = graded
    assert (root / "submissions" / "good.ipynb").is_file()
    assert (root / "solutions" / "fixture_exercise.ipynb").is_file()
    assert results["good"].total == 8


def test_the_csv_has_a_row_per_submission_and_a_points_possible_row(graded):
    _, results = graded
    text = grades_csv(sorted(results.values(), key=lambda r: r.submission))
    lines = text.splitlines()
    assert lines[0] == "submission,exercise,q1,q2,q3,q4,total,max,status,problems"
    assert lines[1] == "(points possible),fixture_exercise,2,3,2,1,8,8,,"
    assert len(lines) == 2 + len(EXPECTED)
    hang = next(line for line in lines if "/hang_code.ipynb" in line)
    assert hang.endswith(",0,3,2,1,6,8,timeout,q1 timeout")
    truncated = next(line for line in lines if "/truncated.ipynb" in line)
    assert ",0,0,0,0,0,8,malformed," in truncated
