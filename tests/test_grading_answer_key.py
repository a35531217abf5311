"""The answer key stays with the instructor: not in the package, not in a learner
repository, and not within reach of a learner's code while it is graded."""

from __future__ import annotations

import json
import shutil
import sys

import nbformat
import pytest

from mlcicd_course import cli
from mlcicd_course.grading.bank import load_exercise, package_bank_dir
from mlcicd_course.grading.markers import scan
from mlcicd_course.grading.notebooks import read_cells
from tests.conftest import ROOT

SOLUTIONS = ROOT / "solutions"
# q1 of chapter 1 asks for eight labels; the key is in the solutions' hidden check setup.
KEY = {"A": "both", "B": "ml", "C": "ml", "D": "ml", "E": "both", "F": "ml", "G": "ml",
       "H": "both"}
# An answer that looks for the key everywhere it can: the package's data, the command
# lines (and working folders) of the grading processes above it, and its own memory.
HOSTILE = r'''
import ast, gc, glob, os, re
import mlcicd_course

def labels_in(text):
    text = text.replace("\\n", "\n").replace('\\"', '"')
    for found in re.findall(r"LABELS_Q1 = (\{[^}]*\})", text):
        try:
            return ast.literal_eval(found)
        except Exception:
            pass
    return None

def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except Exception:
        return ""

places = glob.glob(os.path.join(os.path.dirname(mlcicd_course.__file__), "**", "*"),
                   recursive=True)
pid = os.getpid()
for _ in range(8):
    stat = read(f"/proc/{pid}/stat")
    if not stat:
        break
    pid = int(stat.rsplit(")", 1)[1].split()[1])
    words = read(f"/proc/{pid}/cmdline").split("\0")
    try:
        folder = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        folder = ""
    for word, after in zip(words, words[1:]):
        if word == "--source":
            places += glob.glob(os.path.join(folder, after, "*.ipynb"))
answers = {}
for path in places:
    answers = labels_in(read(path)) or answers
for item in gc.get_objects():
    if isinstance(item, dict) and set(item) == set("ABCDEFGH"):
        answers = dict(item)
'''


def test_the_packaged_checks_hold_no_answers_hidden_checks_or_model_answers():
    for path in sorted(package_bank_dir().glob("*.json")):
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        full = load_exercise(path.stem, SOLUTIONS)
        assert data["complete"] is False and data["hidden_setup_code"] == ""
        for question, source in zip(data["questions"], full.questions, strict=True):
            assert question["model_answer"] == "" and question["hidden_code"] == ""
            for check in source.checks:
                defined = f"def {check.name}(" in text
                assert defined != check.hidden, f"{path.name}: {check.name}"
        if full.hidden_setup_code:
            first = full.hidden_setup_code.strip().splitlines()[0]
            assert first not in text, f"{path.name} holds the hidden setup: {first}"
    assert '"both", "B": "ml"' not in (package_bank_dir() / "01_drift_exercises.json").read_text(
        encoding="utf-8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_an_answer_that_hunts_for_the_key_scores_zero(run_cli, tmp_path):
    shutil.copytree(SOLUTIONS, tmp_path / "private")
    notebook = nbformat.read(ROOT / "exercises" / "01_drift_exercises.ipynb", as_version=4)
    end = next(i for i, c in enumerate(notebook.cells) if "END QUESTION q1" in c.source)
    notebook.cells = notebook.cells[:end + 1]  # only q1: the others are "missing", fast
    notebook.cells[end].source = "<!-- END QUESTION q1 -->"
    answer = next(c for c in notebook.cells if c.source.startswith("answers = {"))
    answer.source = HOSTILE
    (tmp_path / "sub").mkdir()
    nbformat.write(notebook, tmp_path / "sub" / "01_drift_exercises.ipynb")
    done = run_cli("grade", "sub", "--source", "private", "--out", "g.csv", "--feedback", "fb",
                   "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "fb" / "sub__01_drift_exercises.json").read_text())
    q1 = record["questions"][0]
    assert (q1["question"], q1["status"], q1["points"]) == ("q1", "ok", 0), q1["reason"]


def test_export_learner_writes_a_repository_without_solutions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["exercises", "export-learner", "learner", "--solutions", str(SOLUTIONS),
                     "--workflow", str(ROOT / "classroom" / "autograde.yml")]) == 0
    root = tmp_path / "learner"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    question_files = sorted(p.relative_to(ROOT).as_posix() for p in
                            (ROOT / "exercises").glob("*/*") if p.is_file())
    assert question_files, "exercise 03 grades workflow files beside its notebook"
    assert files == sorted([".github/workflows/classroom.yml", "README.md", *question_files,
                            *[f"exercises/{p.name}" for p in SOLUTIONS.glob("*.ipynb")]])
    for path in sorted((root / "exercises").rglob("*.*")):
        relative = path.relative_to(root)
        assert path.read_bytes() == (ROOT / relative).read_bytes()
    for path in sorted((root / "exercises").glob("*.ipynb")):
        markers, _ = scan(read_cells(path))
        assert not [m for m in markers if m.region in ("SOLUTION", "CHECKS", "CHECK SETUP",
                                                        "MODEL ANSWER")]
    text = "".join(p.read_text(encoding="utf-8") for p in root.rglob("*") if p.is_file())
    assert "LABELS_Q1" not in text and "# BEGIN CHECKS" not in text
    assert "# BEGIN SOLUTION" not in text and "github.rest.issues.updateComment" not in text
    capsys.readouterr()
    assert cli.main(["exercises", "export-learner", "learner", "--solutions",
                     str(SOLUTIONS)]) == 2
    out, err = capsys.readouterr()
    assert "not an empty folder" in err and err.count("\n") == 1 and not out
