"""`check("q1")` and `check_all()`: the learner's self-check inside an exercise notebook.

They grade the saved notebook file with the same runner as `mlcicd grade` (the
question's code in a fresh process, the checks here) and print each check's result
with a hint. Which checks run depends on what is at hand: with the instructor's source
(`source=`, $MLCICD_EXERCISES_SOURCE, or a `solutions/` folder beside the notebook's
folder, as in the course repository) every check runs, hidden ones included, and a
question's model answer can be shown; with only the installed package (a GitHub
Classroom repository) the public checks run, and hidden ones are counted, not run.

The notebook is found from the session (JupyterLab, VS Code, Jupyter Notebook), else
among the exercise notebooks of the working folder: the one named by the `# EXERCISE
<id>` line the kernel ran, or, when the kernel keeps no history (nbval), the one whose
variables the kernel has; or from `notebook=`. Because the saved file is what gets
graded, check() warns when the cell you ran last is not in the saved file yet. (On
hosted notebooks without a file on the kernel's disk, such as Colab, check() cannot
work: download the notebook.)
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.bank import ExerciseSpec, load_exercise
from mlcicd_course.grading.checking import QuestionResult, grade_question, to_python
from mlcicd_course.grading.child import GRADING_ENV
from mlcicd_course.grading.files import read_question_files
from mlcicd_course.grading.markers import exercise_id, question_code, scan
from mlcicd_course.grading.notebooks import DamagedNotebook, read_cells
from mlcicd_course.grading.runner import Limits, default_launcher

_LAUNCHER: list[Any] = []
SOURCE_ENV = "MLCICD_EXERCISES_SOURCE"  # a folder of solution notebooks to take checks from
STALE_NOTE = ("note: the cell you ran last is not in the saved notebook, and check() grades "
              "the saved file: save the notebook (Ctrl+S) and run check again")


def _launcher() -> Any:
    if not _LAUNCHER:
        _LAUNCHER.append(default_launcher())
        atexit.register(_LAUNCHER[0].close)
    return _LAUNCHER[0]


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


@dataclass
class SelfCheckReport:
    """What `check()` found: the question results, and notes about the notebook file."""

    notebook: str
    exercise: str
    results: list[QuestionResult]
    notes: list[str] = field(default_factory=list)
    model_answers: dict[str, str] = field(default_factory=dict)

    @property
    def points(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> float:
        return sum(r.max_points for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "exercise": self.exercise, "notes": self.notes,
                "points": self.points, "max_points": self.max_points,
                "results": [r.to_dict() for r in self.results]}

    def text(self, details: bool = False) -> str:
        """The report as learners see it."""
        lines = [*self.notes]
        for number, result in enumerate(self.results):
            if number:
                lines.append("")
            lines.extend(_question_lines(result, details))
            answer = self.model_answers.get(result.question)
            if answer:
                lines.append("  Model answer:")
                lines.extend(f"    {line}" if line else "" for line in answer.splitlines())
        if len(self.results) > 1:
            lines.append("")
            hidden = sum(r.hidden_points for r in self.results)
            unit = "point" if hidden == 1 else "points"
            extra = (f" from public checks (+{_fmt(hidden)} {unit} of hidden checks at "
                     "grading)") if hidden else ""
            lines.append(f"Total: {_fmt(self.points)}/{_fmt(self.max_points)} points{extra}")
        return "\n".join(lines)


def _question_lines(result: QuestionResult, details: bool) -> list[str]:
    status = "" if result.status == "ok" else f" ({result.status})"
    lines = [f"{result.question} · {result.title} · {_fmt(result.points)}/"
             f"{_fmt(result.max_points)} points{status}"]
    if result.status != "ok":
        lines.append(f"  {result.reason}")
        if result.traceback and details:
            lines.extend(f"    {line}" for line in result.traceback.splitlines())
        elif result.traceback:
            lines.append(f'  (run check("{result.question}", details=True) for the traceback)')
    else:
        for outcome in result.checks:
            mark = "✓" if outcome.passed else "✗"
            hidden = " (hidden check)" if outcome.hidden else ""
            lines.append(f"  {mark} {outcome.description}{hidden}")
            if not outcome.passed and outcome.message:
                lines.extend(f"      {line}" for line in outcome.message.splitlines())
    if result.hidden_checks:
        plural = "s" if result.hidden_checks > 1 else ""
        unit = "point" if result.hidden_points == 1 else "points"
        verb = "runs" if result.hidden_checks == 1 else "run"
        lines.append(f"  + {result.hidden_checks} hidden check{plural} "
                     f"({_fmt(result.hidden_points)} {unit}) {verb} when your notebook is graded")
    if result.note:
        lines.append(f"  note: {result.note}")
    if details and result.output.strip():
        lines.append("  output of your code:")
        lines.extend(f"    {line}" for line in result.output.rstrip().splitlines())
    return lines


# --------------------------------------------------------------------------- locating


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _history() -> list[str]:
    shell = _shell()
    entries = shell.user_ns.get("In", []) if shell is not None else []
    return [e for e in entries if isinstance(e, str)]


def _history_exercise(history: list[str]) -> str | None:
    for entry in reversed(history):
        from mlcicd_course.grading.notebooks import Cell

        found = exercise_id([Cell(0, "code", entry)])
        if found:
            return found
    return None


def find_notebook(notebook: str | os.PathLike[str] | None = None) -> Path:
    """The notebook file that check() grades (see the module docstring for the order)."""
    if notebook is not None:
        path = Path(notebook)
        if not path.is_file():
            raise UserInputError(f"notebook not found: {path}")
        return path
    shell = _shell()
    namespace = shell.user_ns if shell is not None else {}
    for candidate in (namespace.get("__session__"), namespace.get("__vsc_ipynb_file__"),
                      os.environ.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            if Path(candidate).is_file():
                return Path(candidate)
    exercise = _history_exercise(_history())
    candidates = []
    for path in sorted(Path.cwd().glob("*.ipynb")):
        try:
            cells = read_cells(path)
        except DamagedNotebook:
            continue
        found = exercise_id(cells)
        if found and (exercise is None or found == exercise):
            candidates.append((path, cells))
    if len(candidates) == 1:
        return candidates[0][0]
    if len(candidates) > 1:  # no history (e.g. nbval): the notebook whose names this kernel has
        scores = sorted(((_overlap(cells, namespace), str(path)) for path, cells in candidates),
                        reverse=True)
        if scores[0][0] > 0 and scores[0][0] > scores[1][0]:
            return Path(scores[0][1])
    raise UserInputError("cannot tell which notebook to check: run the notebook's first code "
                         "cell (with its `# EXERCISE` line), or pass notebook='name.ipynb'")


def _overlap(cells: list, namespace: dict) -> float:
    """Share of the names a notebook's code cells define that exist in `namespace`."""
    import ast

    names: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(to_python(cell.source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return len(names & set(namespace)) / len(names) if names else 0.0


def find_source(notebook: Path, exercise: str,
                source: str | os.PathLike[str] | None = None) -> Path | None:
    """The instructor's source for check(): given, from the environment, or beside."""
    given = source or os.environ.get(SOURCE_ENV)
    if given:
        return Path(given)
    beside = notebook.resolve().parent.parent / "solutions"
    return beside if (beside / f"{exercise}.ipynb").is_file() else None


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def stale_note(cells: list, history: list[str]) -> str | None:
    """A warning when the last cells run in the kernel are not in the saved file."""
    if len(history) < 2:
        return None
    saved = {_normal(c.source) for c in cells if c.cell_type == "code"}
    recent = [h for h in history[-2:] if h.strip()]
    if any(_normal(h) not in saved for h in recent):
        return STALE_NOTE
    return None


# --------------------------------------------------------------------------- checking


def self_check(questions: list[str] | None = None, notebook: str | os.PathLike[str] | None = None,
               *, reveal: bool = False, source: str | os.PathLike[str] | None = None,
               timeout: float = 30.0) -> SelfCheckReport:
    """Run the checks of `questions` (default: all) on the saved notebook.

    All checks when the instructor's source is found, else the public ones.
    """
    path = find_notebook(notebook)
    _launcher().prestart()  # the warm process imports while the checks are prepared here
    try:
        cells = read_cells(path)
    except DamagedNotebook as err:
        raise UserInputError(f"{path.name}: {err}") from None
    exercise = exercise_id(cells) or path.stem
    spec: ExerciseSpec = load_exercise(exercise, find_source(path, exercise, source))
    wanted = questions or spec.question_ids
    for qid in wanted:
        spec.question(qid)  # an unknown id is the caller's mistake: say so at once
    notes = []
    if reveal and not spec.complete:
        notes.append("note: model answers come with the exercise's solutions, which this "
                     "installation does not have")
    if notebook is None and (note := stale_note(cells, _history())):
        notes.append(note)
    _, problems = scan(cells)
    if problems:
        notes.append(f"note: cell {problems[0][0] + 1}: {problems[0][1]}")
    results, answers = [], {}
    for qid in wanted:
        question = spec.question(qid)
        code = question_code(cells, qid, spec.question_ids, question.needs)
        code = replace(code, files=read_question_files(path.parent, question.files))
        result = grade_question(spec, qid, code, launcher=_launcher(),
                                limits=Limits(timeout=timeout))
        results.append(result)
        passed = result.status == "ok" and all(o.passed for o in result.checks)
        if question.model_answer and (reveal or passed):
            answers[qid] = question.model_answer
    return SelfCheckReport(path.name, exercise, results, notes, answers)


def check(question: str, notebook: str | os.PathLike[str] | None = None, *, reveal: bool = False,
          details: bool = False, source: str | os.PathLike[str] | None = None,
          timeout: float = 30.0) -> None:
    """Check one question of the saved exercise notebook and print the result.

    `reveal=True` shows the model answer even before the checks pass; `details=True`
    shows tracebacks and what your code printed.
    """
    if os.environ.get(GRADING_ENV) == "1":
        return None  # the notebook is being graded: the grader runs the checks itself
    try:
        report = self_check([question], notebook, reveal=reveal, source=source, timeout=timeout)
    except UserInputError as err:
        print(f"check: {err}")
        return None
    print(report.text(details))
    return None


def check_all(notebook: str | os.PathLike[str] | None = None, *, details: bool = False,
              source: str | os.PathLike[str] | None = None, timeout: float = 30.0) -> None:
    """Check every question of the saved exercise notebook and print the results."""
    if os.environ.get(GRADING_ENV) == "1":
        return None
    try:
        report = self_check(None, notebook, source=source, timeout=timeout)
    except UserInputError as err:
        print(f"check_all: {err}")
        return None
    report.model_answers.clear()  # they belong under each question: check("qN") shows them
    print(report.text(details))
    return None
