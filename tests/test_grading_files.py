"""Questions that grade a file beside the notebook (`files=NAME:PATH`): built from
solutions/, read beside each learner's notebook (never through a symbolic link), handed
to the checks and copied into the question's working folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from mlcicd_course.grading.batch import grade_batch
from mlcicd_course.grading.build import build, export_learner
from mlcicd_course.grading.files import MAX_FILE_BYTES, read_submitted
from mlcicd_course.grading.markers import MarkerError, parse_solution
from mlcicd_course.grading.notebooks import Cell
from mlcicd_course.grading.runner import ForkLauncher, Limits, SpawnLauncher

ANSWER = "data/answer.txt"
SOLUTION_FILE = ("# the number\n# BEGIN SOLUTION\n42\n# END SOLUTION\n# BEGIN PROMPT\n"
                 "# ...\n# END PROMPT\n")
CHECKS = '''# BEGIN CHECKS
def check_the_number(answer):
    """the file holds 42"""
    numbers = [line for line in answer.splitlines() if line and not line.startswith("#")]
    assert numbers == ["42"], f"the file holds {numbers}"


def check_the_cell_read_it(text, answer):
    """the notebook's cell read the same file"""
    assert text == answer
# END CHECKS'''


def solution_notebook(question_line: str = f"files=answer:{ANSWER}") -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("# A file question"),
        nbformat.v4.new_code_cell("# EXERCISE filex\nfrom pathlib import Path"),
        nbformat.v4.new_markdown_cell(f"<!-- BEGIN QUESTION q1 points=2 {question_line} -->\n"
                                      "## Question 1: the number"),
        nbformat.v4.new_code_cell(f"path = Path({ANSWER!r})\n"
                                  "text = path.read_text() if path.exists() else ''"),
        nbformat.v4.new_code_cell(CHECKS),
        nbformat.v4.new_markdown_cell("<!-- END QUESTION q1 -->\n## The end"),
    ]
    return nbformat.v4.new_notebook(cells=cells)


@pytest.fixture
def course(tmp_path):
    """solutions/ with the notebook and its file; exercises/ and the bank built from them."""
    solutions = tmp_path / "solutions"
    (solutions / "data").mkdir(parents=True)
    nbformat.write(solution_notebook(), solutions / "filex.ipynb")
    (solutions / ANSWER).write_text(SOLUTION_FILE)
    build(solutions, tmp_path / "exercises", tmp_path / "bank")
    return tmp_path


@pytest.fixture(scope="module")
def launcher():
    owned = (ForkLauncher(preload=("mlcicd_course.grading.child",)) if os.name == "posix"
             else SpawnLauncher())
    yield owned
    owned.close()


def learner(root: Path, name: str, answer: str | None) -> Path:
    folder = root / "submissions" / name
    (folder / "data").mkdir(parents=True)
    shutil.copy(root / "exercises" / "filex.ipynb", folder / "filex.ipynb")
    if answer is not None:
        (folder / ANSWER).write_text(answer)
    return folder


def test_build_writes_the_learners_copy_of_each_file_and_notices_a_change(course):
    assert (course / "exercises" / ANSWER).read_text() == "# the number\n...\n"
    bank = json.loads((course / "bank" / "filex.json").read_text())
    assert bank["questions"][0]["files"] == [["answer", ANSWER]]
    solutions = course / "solutions"
    assert not build(solutions, course / "exercises", course / "bank", check=True).stale
    (solutions / ANSWER).write_text(SOLUTION_FILE.replace("# ...", "# your number"))
    stale = build(solutions, course / "exercises", course / "bank", check=True).stale
    assert stale == [str(course / "exercises" / ANSWER)]


def test_a_missing_solution_file_or_a_bad_marker_stops_the_build(course):
    solutions = course / "solutions"
    (solutions / ANSWER).write_text("# BEGIN SOLUTION\n42\n")
    with pytest.raises(MarkerError, match="BEGIN SOLUTION is never closed"):
        build(solutions, course / "exercises", course / "bank")
    (solutions / ANSWER).unlink()
    with pytest.raises(MarkerError, match=f"names the file {ANSWER}"):
        build(solutions, course / "exercises", course / "bank")


@pytest.mark.parametrize("option, message", [
    ("files=answer:/etc/passwd", "relative path inside"),
    ("files=answer:../solutions/x.txt", "relative path inside"),
    ("files=answer", "NAME:PATH"),
    ("files=a:x.txt,a:y.txt", "twice"),
])
def test_a_files_option_outside_the_exercise_folder_is_refused(option, message):
    notebook = solution_notebook(option)
    cells = [Cell(i, c.cell_type, c.source) for i, c in enumerate(notebook.cells)]
    with pytest.raises(MarkerError, match=message) as error:
        parse_solution(cells, "filex.ipynb")
    assert "cell 3" in str(error.value)


def test_each_learners_file_is_read_beside_their_notebook(course, launcher):
    learner(course, "alice", "42\n")
    learner(course, "bob", "41\n")
    learner(course, "carol", None)
    results = grade_batch([course / "submissions"], source=course / "solutions", jobs=2,
                          limits=Limits(timeout=20), launcher=launcher)
    by_name = {Path(r.submission).parent.name: r.questions[0] for r in results}
    assert {name: q.points for name, q in by_name.items()} == {"alice": 2, "bob": 1,
                                                               "carol": 0}
    bob = {c.name: c for c in by_name["bob"].checks}
    assert "['41']" in bob["check_the_number"].message
    carol = {c.name: c for c in by_name["carol"].checks}
    assert "is not beside the notebook" in carol["check_the_number"].message


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_a_symbolic_link_to_another_file_earns_nothing(course, launcher):
    folder = learner(course, "dave", None)
    (folder / ANSWER).symlink_to(course / "solutions" / ANSWER)  # the full-marks file
    [result] = grade_batch([folder], source=course / "solutions", limits=Limits(timeout=20),
                           launcher=launcher)
    checks = {c.name: c for c in result.questions[0].checks}
    assert result.questions[0].points == 0
    assert "symbolic link" in checks["check_the_number"].message


def test_resume_grades_again_when_only_the_file_changed(course, launcher):
    folder = learner(course, "erin", "41\n")
    kept = {}

    def keep(result, sha256):
        kept[result.submission] = (result, sha256)

    first = grade_batch([folder], source=course / "solutions", limits=Limits(timeout=20),
                        launcher=launcher, on_result=keep)
    done = {(name, sha): result for name, (result, sha) in kept.items()}
    assert grade_batch([folder], source=course / "solutions", launcher=launcher,
                       done=done) == first  # nothing changed: taken from the earlier run
    (folder / ANSWER).write_text("42\n")
    [again] = grade_batch([folder], source=course / "solutions", limits=Limits(timeout=20),
                          launcher=launcher, done=done)
    assert (first[0].total, again.total) == (1, 2)


def test_read_submitted_refuses_what_is_not_a_small_text_file(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "folder.txt").mkdir()
    assert "more than" in read_submitted(tmp_path, "a", "big.txt").problem
    assert "not UTF-8" in read_submitted(tmp_path, "a", "latin1.txt").problem
    assert "not a regular file" in read_submitted(tmp_path, "a", "folder.txt").problem
    (tmp_path / "ok.txt").write_text("fine\n")
    assert read_submitted(tmp_path, "a", "ok.txt").text == "fine\n"


def test_the_learner_repository_has_the_files(course):
    written = export_learner(course / "solutions", course / "learner")
    assert course / "learner" / "exercises" / ANSWER in written
    assert (course / "learner" / "exercises" / ANSWER).read_text() == "# the number\n...\n"
