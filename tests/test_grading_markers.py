"""The marker format: strict parsing of solutions, tolerant parsing of submissions, build."""

from __future__ import annotations

import json

import nbformat
import pytest

from mlcicd_course.grading.bank import read_blueprint, spec_from_blueprint
from mlcicd_course.grading.build import build, exercise_notebook
from mlcicd_course.grading.markers import (
    MarkerError,
    exercise_source,
    locate_question,
    parse_solution,
    question_code,
    solution_suffix,
)
from mlcicd_course.grading.notebooks import Cell, DamagedNotebook, parse_notebook_text
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "grading" / "solutions"
SETUP = "# EXERCISE demo\nfrom mlcicd_course.grading import check"
CHECKS = ('# BEGIN CHECKS\ndef check_x(x):\n    """x is 1"""\n    assert x == 1\n'
          '# END CHECKS')


def cells(*specs: tuple[str, str]) -> list[Cell]:
    return [Cell(i, kind, source) for i, (kind, source) in enumerate(specs)]


def demo(*extra: tuple[str, str]) -> list[Cell]:
    return cells(("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->\n## One"),
                 ("code", "x = 1  # SOLUTION"), ("code", CHECKS),
                 ("markdown", "<!-- END QUESTION q1 -->"), *extra)


def test_a_minimal_solution_parses_into_questions_checks_and_learner_cells():
    blueprint = parse_solution(demo(), "demo.ipynb", expected_id="demo")
    assert blueprint.exercise == "demo"
    [question] = blueprint.questions
    assert (question.id, question.points, question.title) == ("q1", 1, "One")
    assert [(c.name, c.points, c.hidden, c.description, c.parameters)
            for c in question.checks] == [("check_x", 1, False, "x is 1", ("x",))]
    learner = [source for _, source in blueprint.exercise_cells]
    assert "x = ...  # your answer" in learner
    assert not any("check_x" in s for s in learner), "checks must not reach the learner"


def test_hidden_checks_and_the_hidden_setup_stay_out_of_the_public_part():
    setup = ('# BEGIN CHECK SETUP\nKEYS = "AB"\n# END CHECK SETUP\n'
             '# BEGIN CHECK SETUP hidden\nKEY = {"A": 1}\n# END CHECK SETUP')
    checks = ('# BEGIN CHECKS\ndef check_keys(x):\n    """x has the keys"""\n'
              '    assert sorted(x) == list(KEYS)\n\n\n# CHECK hidden\n'
              'def check_values(x):\n    """x is right"""\n    assert x == KEY\n'
              '# END CHECKS')
    blueprint = parse_solution(cells(
        ("code", SETUP), ("code", setup),
        ("markdown", "<!-- BEGIN QUESTION q1 points=2 -->\n## One"),
        ("code", 'x = {"A": 1}  # SOLUTION'), ("code", checks),
        ("markdown", "<!-- END QUESTION q1 -->")), "demo.ipynb", expected_id="demo")
    spec = spec_from_blueprint(blueprint, "demo")
    public = json.dumps(spec.public().to_dict())
    assert "KEYS" in public and "check_keys" in public and "check_values" in public
    assert "KEY =" not in public and "x == KEY" not in public and "CHECK hidden" not in public
    [question] = spec.questions
    assert question.hidden_code.startswith("# CHECK hidden\ndef check_values(x):")
    assert spec.hidden_setup_code == 'KEY = {"A": 1}' and spec.complete
    with pytest.raises(MarkerError, match="unknown option 'secret' on BEGIN CHECK SETUP"):
        parse_solution(cells(("code", SETUP), ("code", setup.replace("hidden", "secret")),
                             ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->\n## One"),
                             ("code", "x = 1  # SOLUTION"), ("code", CHECKS),
                             ("markdown", "<!-- END QUESTION q1 -->")), "demo.ipynb")


def test_the_fixture_solution_builds_the_expected_learner_notebook(tmp_path):
    blueprint = read_blueprint(FIXTURE / "fixture_exercise.ipynb")
    spec = spec_from_blueprint(blueprint, "solutions/fixture_exercise.ipynb")
    assert [(q.id, q.points, q.needs) for q in spec.questions] == [
        ("q1", 2, ()), ("q2", 3, ()), ("q3", 2, ()), ("q4", 1, ("q2",))]
    assert [c.name for c in spec.question("q2").checks if c.hidden] == ["check_floats"]
    assert spec.question("q2").public_points == 2
    assert "A is about data" in spec.question("q1").model_answer
    notebook = nbformat.reads(exercise_notebook(blueprint), as_version=4)
    text = "\n".join(c.source for c in notebook.cells)
    for hidden_from_learner in ("BEGIN SOLUTION", "BEGIN CHECKS", "CHECK SETUP", "check_floats",
                                "sum(values) / len(values)", "MODEL ANSWER", "A is about data",
                                '"ml",  # SOLUTION'):
        assert hidden_from_learner not in text
    for kept in ("# EXERCISE fixture_exercise", "<!-- BEGIN QUESTION q2 points=3 -->",
                 "<!-- END QUESTION q4 -->", '"A": ...,  # your answer',
                 "    ...  # assert something about sort([3, 1, 2])", 'check("q1")'):
        assert kept in text
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in notebook.cells if c.cell_type == "code")
    nbformat.validate(notebook)


def test_build_is_byte_stable_and_check_mode_finds_stale_files(tmp_path):
    first = build(FIXTURE, tmp_path / "ex", tmp_path / "bank")
    assert len(first.written) == 2
    exercise = (tmp_path / "ex" / "fixture_exercise.ipynb").read_bytes()
    again = build(FIXTURE, tmp_path / "ex", tmp_path / "bank")
    assert again.written == [] and again.stale == []
    assert (tmp_path / "ex" / "fixture_exercise.ipynb").read_bytes() == exercise
    (tmp_path / "ex" / "fixture_exercise.ipynb").write_text("{}", encoding="utf-8")
    checked = build(FIXTURE, tmp_path / "ex", tmp_path / "bank", check=True)
    assert checked.stale == [str(tmp_path / "ex" / "fixture_exercise.ipynb")]
    assert (tmp_path / "ex" / "fixture_exercise.ipynb").read_text() == "{}", "check writes nothing"
    bank = json.loads((tmp_path / "bank" / "fixture_exercise.json").read_text())
    assert [q["id"] for q in bank["questions"]] == ["q1", "q2", "q3", "q4"]


@pytest.mark.parametrize("line, expected", [
    ("threshold = 0.1  # SOLUTION", "threshold = ...  # your answer"),
    ('    "A": "ml",  # SOLUTION', '    "A": ...,  # your answer'),
    ("x: float = f(a, b=2)  # SOLUTION", "x: ...  # your answer"),
    ("d = {'a': 1}  # SOLUTION", "d = ...  # your answer"),
    ("plain code", None),
])
def test_one_line_solutions_keep_the_name_and_hide_the_value(line, expected):
    assert solution_suffix(line) == expected


def test_a_prompt_block_replaces_the_solution_uncommented():
    cell = Cell(0, "code", "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n"
                           "    # BEGIN PROMPT\n    # return ...\n    # END PROMPT")
    assert exercise_source(cell, "x") == "def f():\n    return ..."
    bare = Cell(0, "code", "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION")
    assert exercise_source(bare, "x") == "def f():\n    ...  # your code here"


MALFORMED = [
    ("unknown marker", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTON q1 points=1 -->")],
     "cell 2", "unknown marker"),
    ("no exercise line", [("markdown", "<!-- BEGIN QUESTION q1 points=1 -->")], "demo.ipynb",
     "EXERCISE"),
    ("exercise id differs", [("code", "# EXERCISE other")], "cell 1", "must equal the file"),
    ("points missing", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 -->")], "cell 2",
     "needs points=N"),
    ("points not a number", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=a -->")],
     "cell 2", "must be a number"),
    ("never closed", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                      ("code", CHECKS)], "cell 2", "never closed"),
    ("end closes another id", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                               ("code", CHECKS), ("markdown", "<!-- END QUESTION q2 -->")],
     "cell 4", "closes question q1"),
    ("nested question", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                         ("markdown", "<!-- BEGIN QUESTION q2 points=1 -->")], "cell 3",
     "inside BEGIN QUESTION"),
    ("solution outside a question", [("code", SETUP), ("code", "# BEGIN SOLUTION\n# END SOLUTION")],
     "cell 2", "outside a question"),
    ("solution across cells", [("code", SETUP),
                               ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                               ("code", "# BEGIN SOLUTION"), ("code", "# END SOLUTION")],
     "cell 4", "same cell"),
    ("no checks", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                   ("markdown", "<!-- END QUESTION q1 -->")], "cell 2", "no BEGIN/END CHECKS"),
    ("points do not add up", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=3 -->"),
                              ("code", CHECKS), ("markdown", "<!-- END QUESTION q1 -->")],
     "cell 2", "add up to 1"),
    ("check without docstring", [("code", SETUP),
                                 ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                                 ("code", "# BEGIN CHECKS\ndef check_x(x):\n    assert x\n"
                                          "# END CHECKS"),
                                 ("markdown", "<!-- END QUESTION q1 -->")], "cell 3", "docstring"),
    ("check with a default", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                              ("code", '# BEGIN CHECKS\ndef check_x(x=1):\n    """d"""\n'
                                       "# END CHECKS"),
                              ("markdown", "<!-- END QUESTION q1 -->")], "cell 3", "plain names"),
    ("bad CHECK option", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                          ("code", '# BEGIN CHECKS\n# CHECK secret\ndef check_x(x):\n    """d"""\n'
                                   "# END CHECKS"),
                          ("markdown", "<!-- END QUESTION q1 -->")], "cell 3", "unknown CHECK"),
    ("checks with a syntax error", [("code", SETUP),
                                    ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                                    ("code", "# BEGIN CHECKS\ndef check_x(x)\n# END CHECKS"),
                                    ("markdown", "<!-- END QUESTION q1 -->")], "cell 3",
     "not valid Python"),
    ("duplicate question id", [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                               ("code", CHECKS), ("markdown", "<!-- END QUESTION q1 -->"),
                               ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->")], "cell 5",
     "used twice"),
    ("needs a later question", [("code", SETUP),
                                ("markdown", "<!-- BEGIN QUESTION q1 points=1 needs=q2 -->"),
                                ("code", CHECKS), ("markdown", "<!-- END QUESTION q1 -->")],
     "cell 2", "needs q2"),
]


@pytest.mark.parametrize("specs, where, what", [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_markers_are_an_error_naming_notebook_and_cell(specs, where, what):
    with pytest.raises(MarkerError) as raised:
        parse_solution(cells(*specs), "demo.ipynb", expected_id="demo")
    message = str(raised.value)
    assert message.startswith("demo.ipynb"), message
    assert where in message and what in message, message
    assert "\n" not in message


def test_build_rejects_a_learner_version_that_is_not_python(tmp_path):
    bad = demo()
    bad[2] = Cell(2, "code", "x = {\n    # BEGIN SOLUTION\n    'a': 1\n    # END SOLUTION\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(c.source) if c.cell_type == "code"
        else nbformat.v4.new_markdown_cell(c.source) for c in bad])
    (tmp_path / "sol").mkdir()
    nbformat.write(notebook, tmp_path / "sol" / "demo.ipynb")
    with pytest.raises(MarkerError, match="not valid Python.*PROMPT"):
        build(tmp_path / "sol", tmp_path / "ex", tmp_path / "bank")
    assert not (tmp_path / "ex").exists(), "nothing is written when a solution is malformed"


# --------------------------------------------------------------------------- submissions


def test_question_code_is_shared_cells_above_plus_the_questions_own_cells():
    notebook = demo(("markdown", "<!-- BEGIN QUESTION q2 points=1 needs=q1 -->"),
                    ("code", "y = x + 1"), ("code", "z = 3"),
                    ("markdown", "<!-- END QUESTION q2 -->"), ("code", "after = 1"))
    q1 = question_code(notebook, "q1", ["q1", "q2"])
    assert [label for label, _ in q1.cells] == ["cell 1", "cell 3"]
    assert "check_x" not in "".join(code for _, code in q1.cells), "CHECKS regions are stripped"
    q2 = question_code(notebook, "q2", ["q1", "q2"], needs=("q1",))
    assert [label for label, _ in q2.cells] == ["cell 1", "cell 3", "cell 7", "cell 8"]


def test_cells_a_learner_inserts_inside_a_question_belong_to_it():
    notebook = cells(("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"),
                     ("code", "x = 0"), ("code", "x += 1  # my own cell"),
                     ("code", "check('q1')"), ("markdown", "<!-- END QUESTION q1 -->"))
    assert [label for label, _ in question_code(notebook, "q1", ["q1"]).cells] == [
        "cell 1", "cell 3", "cell 4", "cell 5"]


def test_damaged_questions_get_a_status_and_a_reason():
    base = [("code", SETUP), ("markdown", "<!-- BEGIN QUESTION q1 points=1 -->"), ("code", "x=1"),
            ("markdown", "<!-- END QUESTION q1 -->")]
    assert locate_question(cells(*base), "q1").status == "ok"
    gone = locate_question(cells(base[0], base[2]), "q1")
    assert gone.status == "missing" and "deleted" in gone.reason
    twice = locate_question(cells(*base[:2], base[1], *base[2:]), "q1")
    assert twice.status == "malformed" and "2 times" in twice.reason
    backwards = locate_question(cells(base[0], base[3], base[2], base[1]), "q1")
    assert backwards.status == "malformed" and "before its BEGIN" in backwards.reason
    open_ended = locate_question(cells(*base[:3]), "q1")
    assert open_ended.status == "ok" and "missing" in open_ended.reason


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a notebook"),
    ('{"nbformat": 4}', "no list of cells"),
])
def test_unreadable_notebooks_raise_damaged_notebook(text, message):
    with pytest.raises(DamagedNotebook, match=message):
        parse_notebook_text(text)


def test_cells_with_odd_shapes_are_read_not_crashed_on():
    text = json.dumps({"cells": [{"cell_type": "code", "source": ["a = 1\n", "b = 2"]},
                                 "junk", {"cell_type": "markdown", "source": 5}]})
    parsed = parse_notebook_text(text)
    assert [(c.cell_type, c.source) for c in parsed] == [
        ("code", "a = 1\nb = 2"), ("unknown", ""), ("unknown", "")]
