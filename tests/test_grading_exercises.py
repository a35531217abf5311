"""The course's own exercises: generated files up to date, both grading directions, links.

Both directions: every notebook in solutions/ scores full marks on every question, and
every untouched notebook in exercises/ runs cleanly and scores 0 on every question.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from mlcicd_course.grading.bank import load_exercise, package_bank_dir
from mlcicd_course.grading.batch import verify
from mlcicd_course.grading.build import build
from mlcicd_course.grading.markers import locate_question
from mlcicd_course.grading.notebooks import read_cells
from mlcicd_course.grading.runner import Limits
from tests.conftest import ROOT

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
FIX = "run `make exercises` (mlcicd exercises build) and commit exercises/ and mlcicd_course/data"


def test_the_course_has_the_exercises_of_chapters_1_and_2():
    names = {p.stem for p in SOLUTIONS}
    assert {"01_drift_exercises", "02_testing_exercises"} <= names


def test_exercises_and_the_packaged_checks_are_up_to_date():
    result = build(ROOT / "solutions", ROOT / "exercises", package_bank_dir(), check=True)
    assert not result.stale, f"out of date: {', '.join(result.stale)}; {FIX}"


def test_every_solution_scores_full_marks_and_every_exercise_scores_zero():
    problems, graded = verify(ROOT / "solutions", ROOT / "exercises", jobs=2,
                              limits=Limits(timeout=60))
    assert not problems, "\n".join(problems)
    assert len(graded) == 2 * len(SOLUTIONS)


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_each_question_has_its_check_cell_and_the_exercise_links_its_chapter(path):
    spec = load_exercise(path.stem, ROOT / "solutions")
    cells = read_cells(ROOT / "exercises" / path.name)
    for question in spec.questions:
        located = locate_question(cells, question.id)
        assert located.status == "ok", located.reason
        sources = [c.source for c in cells[located.start: located.end + 1]]
        assert any(f'check("{question.id}")' in s for s in sources), (
            f"{path.name}: question {question.id} has no check(\"{question.id}\") cell")
    intro = cells[0].source
    chapter = re.search(r"\]\(\.\./notebooks/(\d\d_[\w-]+\.ipynb)\)", intro)
    assert chapter, f"{path.name}: the first cell must link back to its chapter notebook"
    assert (ROOT / "notebooks" / chapter.group(1)).is_file(), chapter.group(1)
    assert chapter.group(1)[:2] == path.name[:2], "the exercise links to its own chapter"


@pytest.mark.parametrize("name, chapter", [
    ("01_drift_exercises", "01_why_ml_cicd_and_drift"),
    ("02_testing_exercises", "02_testing_ml_systems"),
    ("06_shadow_exercises", "06_shadow_deployment"),
])
def test_the_chapter_links_to_its_exercise(name, chapter):
    text = (ROOT / "notebooks" / f"{chapter}.ipynb").read_text(encoding="utf-8")
    assert f"../exercises/{name}.ipynb" in text


@pytest.mark.parametrize("body, points, status", [
    ("    pass", 0, "ok"),                        # asserts nothing: passes every model
    ("    assert True", 0, "ok"),
    # fails every model, but by crashing (the notebook's own try-cell stops at it)
    ("    raise NotImplementedError", 0, "error"),
    ("    accuracy = accuracy_score(test_data[TARGET], model.predict(test_data[FEATURES]))\n"
     "    assert accuracy >= 0.80, f'accuracy {accuracy:.3f}'", 3, "ok"),  # the source's 0.80 bar
])
def test_a_learner_test_earns_points_only_for_telling_models_apart(tmp_path, body, points,
                                                                   status):
    from mlcicd_course.grading.batch import grade_batch

    notebook = nbformat.read(ROOT / "solutions" / "02_testing_exercises.ipynb", as_version=4)
    cell = next(c for c in notebook.cells
                if c.source.startswith("def test_accuracy_is_at_least_85_percent"))
    head = cell.source.split("    # BEGIN SOLUTION")[0]
    cell.source = head + body + "\n"
    nbformat.write(notebook, tmp_path / "02_testing_exercises.ipynb")
    [result] = grade_batch([tmp_path / "02_testing_exercises.ipynb"], jobs=2,
                           source=ROOT / "solutions")
    q1 = result.questions[0]
    assert (q1.question, q1.status) == ("q1", status)
    assert q1.points == points, [(c.name, c.passed, c.message) for c in q1.checks]
    assert [q.points for q in result.questions[1:]] == [4, 2], "the other answers still count"
