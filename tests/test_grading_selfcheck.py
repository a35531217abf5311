"""check() and check_all() in a real kernel, and the pieces that locate the notebook."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading import check, self_check
from mlcicd_course.grading.build import build
from mlcicd_course.grading.notebooks import Cell
from mlcicd_course.grading.selfcheck import (
    SOURCE_ENV,
    STALE_NOTE,
    find_notebook,
    find_source,
    stale_note,
)
from tests.conftest import ROOT

SOLUTIONS = ROOT / "tests" / "fixtures" / "grading" / "solutions"
SUBMISSIONS = ROOT / "tests" / "fixtures" / "grading" / "submissions"


def run_notebook(path, monkeypatch) -> list[str]:
    """Execute a notebook in its folder; return the printed output of each code cell."""
    monkeypatch.setenv(SOURCE_ENV, str(SOLUTIONS))
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return ["".join(o.get("text", "") for o in c.outputs) for c in notebook.cells
            if c.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The fixture's solution and its untouched exercise, executed in a kernel."""
    folder = tmp_path_factory.mktemp("selfcheck")
    shutil.copy(SOLUTIONS / "fixture_exercise.ipynb", folder / "fixture_exercise.ipynb")
    build(SOLUTIONS, folder / "exercise", folder / "bank")
    patch = pytest.MonkeyPatch()
    try:
        return (run_notebook(folder / "fixture_exercise.ipynb", patch),
                run_notebook(folder / "exercise" / "fixture_exercise.ipynb", patch))
    finally:
        patch.undo()


def test_check_with_the_solutions_at_hand_runs_every_check_and_shows_the_answer(executed):
    solution, _ = executed
    q1 = next(text for text in solution if text.startswith("q1 ·"))
    assert q1.splitlines() == [
        "q1 · classify · 2/2 points",
        "  ✓ every statement has a label",
        "  ✓ the labels are right",
        "  Model answer:",
        "    A is about data, so ML; B is about code only.",
    ]
    q2 = next(text for text in solution if text.startswith("q2 ·"))
    assert "✓ mean of floats (hidden check)" in q2 and "runs when" not in q2
    assert solution[-1].rstrip().endswith("Total: 8/8 points")


def test_check_in_the_untouched_exercise_gives_hints_and_no_model_answer(executed):
    _, exercise = executed
    q1 = next(text for text in exercise if text.startswith("q1 ·"))
    assert "q1 · classify · 0/2 points" in q1 and "label these: A, B" in q1
    assert "Model answer" not in "".join(exercise)
    assert "Total: 0/8 points" in exercise[-1]


def test_self_check_with_an_explicit_notebook(monkeypatch):
    monkeypatch.setenv(SOURCE_ENV, str(SOLUTIONS))
    report = self_check(["q2"], SUBMISSIONS / "exit_os.ipynb")
    [result] = report.results
    assert (result.status, result.points, result.max_points) == ("error", 0.0, 3)
    assert report.exercise == "fixture_exercise"
    good = self_check(None, SUBMISSIONS / "good.ipynb", reveal=True)
    assert good.points == good.max_points == 8
    assert set(good.model_answers) == {"q1"}


def test_an_unknown_question_is_one_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setenv(SOURCE_ENV, str(SOLUTIONS))
    check("q9", notebook=SUBMISSIONS / "good.ipynb")
    out = capsys.readouterr().out
    assert out.startswith("check: exercise fixture_exercise has no question 'q9'")
    assert out.count("\n") == 1


def test_check_does_nothing_while_the_notebook_is_being_graded(monkeypatch, capsys):
    monkeypatch.setenv("MLCICD_GRADING", "1")
    assert check("q1", notebook="does-not-exist.ipynb") is None
    assert capsys.readouterr().out == ""


def test_find_notebook_explains_what_to_do_when_it_cannot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(UserInputError, match="pass notebook="):
        find_notebook()
    with pytest.raises(UserInputError, match="not found"):
        find_notebook("missing.ipynb")
    monkeypatch.setenv("JPY_SESSION_NAME", str(SUBMISSIONS / "good.ipynb"))
    assert find_notebook() == SUBMISSIONS / "good.ipynb"


def test_stale_note_when_the_last_cell_run_is_not_saved():
    saved = [Cell(0, "code", "x = 1"), Cell(1, "code", 'check("q1")')]
    assert stale_note(saved, ["x = 1", 'check("q1")']) is None
    assert stale_note(saved, ["x = 1  ", 'check("q1")\n']) is None, "whitespace does not count"
    assert stale_note(saved, ["x = 2", 'check("q1")']) == STALE_NOTE
    assert stale_note(saved, ['check("q1")']) is None, "nothing to compare yet"


def test_without_the_solutions_check_runs_the_public_checks_and_reveals_nothing(tmp_path,
                                                                                 monkeypatch):
    """A learner repository (no solutions/ beside exercises/): the package's checks only."""
    monkeypatch.delenv(SOURCE_ENV, raising=False)
    (tmp_path / "exercises").mkdir()
    notebook = tmp_path / "exercises" / "01_drift_exercises.ipynb"
    shutil.copy(ROOT / "solutions" / "01_drift_exercises.ipynb", notebook)
    assert find_source(notebook, "01_drift_exercises") is None
    report = self_check(["q1"], notebook, reveal=True)
    [q1] = report.results
    assert (q1.points, q1.max_points, q1.hidden_checks, q1.hidden_points) == (1, 1, 2, 2)
    assert not report.model_answers and "model answers come with" in report.notes[0]
    assert "+ 2 hidden checks (2 points) run when your notebook is graded" in report.text()
    beside = find_source(ROOT / "exercises" / "01_drift_exercises.ipynb", "01_drift_exercises")
    assert beside == ROOT / "solutions", "in the course repository the solutions are found"
