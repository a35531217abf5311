"""Grading a batch of submitted notebooks: in parallel, per question, never aborting.

`grade_batch` reads every submission into memory first (so a submission that deletes
files cannot hide the others), works out which exercise each one is, and grades every
(submission, question) pair on a thread pool; each pair gets its own learner process.
A damaged notebook, a missing question or an unknown exercise becomes a status with a
reason in the results, never an exception. Results come back in a fixed order and
contain no timings or temporary paths, so grading twice gives the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.bank import ExerciseSpec, available_exercises, load_exercise
from mlcicd_course.grading.checking import QuestionResult, grade_question
from mlcicd_course.grading.files import SubmittedFile, read_question_files
from mlcicd_course.grading.markers import QuestionSource, exercise_id, question_code
from mlcicd_course.grading.notebooks import (
    Cell,
    DamagedNotebook,
    parse_notebook_text,
    read_notebook_text,
)
from mlcicd_course.grading.runner import Limits, default_launcher
from mlcicd_course.modelstore import sha256_file

SEVERITY = {"ok": 0, "missing": 1, "error": 2, "timeout": 3, "malformed": 4}
POINTS_POSSIBLE = "(points possible)"


@dataclass(frozen=True)
class SubmissionResult:
    """One submitted notebook: its exercise, overall status and each question's result."""

    submission: str
    exercise: str
    status: str
    reason: str
    questions: tuple[QuestionResult, ...]
    checks_digest: str = ""

    @property
    def total(self) -> float:
        return round(sum(q.points for q in self.questions), 4)

    @property
    def max_points(self) -> float:
        return round(sum(q.max_points for q in self.questions), 4)

    @property
    def problems(self) -> str:
        return "; ".join(f"{q.question} {q.status}" for q in self.questions if q.status != "ok")

    def to_dict(self) -> dict[str, Any]:
        return {"submission": self.submission, "exercise": self.exercise,
                "status": self.status, "reason": self.reason, "total": self.total,
                "max_points": self.max_points, "checks_sha256": self.checks_digest,
                "questions": [q.to_dict() for q in self.questions]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        return cls(data["submission"], data["exercise"], data["status"], data["reason"],
                   tuple(QuestionResult.from_dict(q) for q in data["questions"]),
                   data["checks_sha256"])


@dataclass
class _Submission:
    name: str
    cells: list[Cell] | None
    sha256: str = ""
    damage: str = ""
    exercise: str = ""
    reason: str = ""
    folder: Path | None = None
    files: dict[str, tuple[SubmittedFile, ...]] | None = None  # per question id


def find_submissions(paths: list[str | os.PathLike[str]]) -> list[tuple[str, Path]]:
    """(display name, path) of every notebook in `paths` (files or folders), sorted."""
    found: dict[Path, str] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for notebook in sorted(path.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in notebook.parts:
                    continue
                found.setdefault(notebook.resolve(), notebook.as_posix())
        elif path.is_file():
            found.setdefault(path.resolve(), path.as_posix())
        else:
            raise UserInputError(f"submission path not found: {path}")
    if not found:
        raise UserInputError("no notebooks (*.ipynb) found in " + ", ".join(map(str, paths)))
    return sorted(((name, path) for path, name in found.items()), key=lambda item: item[0])


def _read(name: str, path: Path) -> _Submission:
    try:
        digest = sha256_file(path)
    except OSError:
        digest = ""  # unreadable: reported as damaged below
    try:
        return _Submission(name, parse_notebook_text(read_notebook_text(path)), digest,
                           folder=path.parent)
    except DamagedNotebook as err:
        return _Submission(name, None, digest, damage=str(err), folder=path.parent)


def _read_files(item: _Submission, spec: ExerciseSpec) -> None:
    """Read the files the questions name beside the notebook, now, before any grading; the
    notebook's digest then covers them too (so --resume sees a changed file)."""
    item.files = {q.id: read_question_files(item.folder, q.files)
                  for q in spec.questions if q.files and item.folder is not None}
    if item.files:
        parts = [item.sha256, *(f.sha256 for files in item.files.values() for f in files)]
        item.sha256 = hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _assign_exercises(submissions: list[_Submission], exercise: str | None,
                      known: list[str]) -> None:
    for item in submissions:
        if exercise:
            item.exercise = exercise
        elif item.cells is not None and (marked := exercise_id(item.cells)):
            item.exercise = marked
        elif Path(item.name).stem in known:
            item.exercise = Path(item.name).stem
    named = sorted({s.exercise for s in submissions if s.exercise})
    for item in submissions:
        if not item.exercise and len(named) == 1:
            item.exercise = named[0]
            item.reason = (f"no `# EXERCISE` line; graded as {named[0]}, the exercise of the "
                           "other notebooks")
        elif not item.exercise:
            item.reason = ("cannot tell which exercise this is: the `# EXERCISE` line is "
                           "missing; grade it with --exercise ID")


def grade_batch(paths: list[str | os.PathLike[str]], *,
                source: str | os.PathLike[str] | None = None, exercise: str | None = None,
                jobs: int | None = None, limits: Limits | None = None, launcher: Any = None,
                progress: Callable[[int, int, str], None] | None = None,
                done: dict[tuple[str, str], SubmissionResult] | None = None,
                on_result: Callable[[SubmissionResult, str], None] | None = None,
                ) -> list[SubmissionResult]:
    """Grade every notebook in `paths`; one `SubmissionResult` per notebook, sorted by name.

    `done` maps (submission, SHA-256 of its file) to a result of an earlier run: such a
    notebook is not graded again when its checks are unchanged. `on_result(result,
    sha256)` is called (in this thread) as soon as each notebook is graded.
    """
    limits = limits or Limits()
    jobs = max(1, jobs or os.cpu_count() or 1)
    submissions = [_read(name, path) for name, path in find_submissions(paths)]
    _assign_exercises(submissions, exercise, available_exercises(source))
    specs: dict[str, ExerciseSpec | UserInputError] = {}
    for ex in sorted({s.exercise for s in submissions if s.exercise}):
        try:
            specs[ex] = load_exercise(ex, source)
        except UserInputError as err:
            specs[ex] = err
    if exercise and isinstance(specs.get(exercise), UserInputError):
        raise specs[exercise]  # the instructor named it: a typo is bad input
    for item in submissions:
        if isinstance(specs.get(item.exercise), ExerciseSpec):
            _read_files(item, specs[item.exercise])
    owned = launcher is None
    launcher = launcher or default_launcher()
    streams = sys.stdout, sys.stderr  # a check that redirects them must not keep them
    results: dict[int, SubmissionResult] = {}

    def finish(index: int, result: SubmissionResult, fresh: bool) -> None:
        results[index] = result
        if fresh and on_result:
            on_result(result, submissions[index].sha256)
        if progress:
            progress(len(results), len(submissions), result.submission)

    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            owner: dict[Future, int] = {}
            waiting: dict[int, list[Future]] = {}
            for index, item in enumerate(submissions):
                spec = specs.get(item.exercise)
                earlier = (done or {}).get((item.name, item.sha256))
                if not isinstance(spec, ExerciseSpec):
                    finish(index, _collect(item, None, [], specs), True)
                elif earlier is not None and earlier.checks_digest == spec.digest:
                    finish(index, earlier, False)
                else:
                    waiting[index] = [pool.submit(_safe_grade, spec, question.id,
                                                  _question_source(item, spec, question.id),
                                                  launcher, limits)
                                      for question in spec.questions]
                    owner.update({future: index for future in waiting[index]})
            pending = set(owner)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for index in sorted({owner[f] for f in finished}):
                    futures = waiting[index]
                    if index not in results and all(f.done() for f in futures):
                        item = submissions[index]
                        finish(index, _collect(item, specs[item.exercise],
                                               [f.result() for f in futures], specs), True)
    finally:
        sys.stdout, sys.stderr = streams
        if owned:
            launcher.close()
    return [results[index] for index in range(len(submissions))]


def _question_source(item: _Submission, spec: ExerciseSpec, qid: str) -> QuestionSource:
    if item.cells is None:
        return QuestionSource("malformed", reason=f"the notebook cannot be read: {item.damage}")
    code = question_code(item.cells, qid, spec.question_ids, spec.question(qid).needs)
    return replace(code, files=(item.files or {}).get(qid, ()))


def _safe_grade(spec: ExerciseSpec, qid: str, code: QuestionSource, launcher: Any,
                limits: Limits) -> QuestionResult:
    """Grade one question; a failure of the grader itself scores 0 with the reason."""
    try:
        return grade_question(spec, qid, code, launcher=launcher, limits=limits)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - one broken question must not stop the batch
        question = spec.question(qid)
        return QuestionResult(spec.id, qid, question.title, 0.0, question.points, "error",
                              f"the grader could not run this question ({type(err).__name__}: "
                              f"{err})")


def _collect(item: _Submission, spec: ExerciseSpec | None, questions: list[QuestionResult],
             specs: dict[str, Any]) -> SubmissionResult:
    if spec is None:
        problem = specs.get(item.exercise)
        reason = item.reason or (str(problem) if problem else "unknown exercise")
        if item.cells is None:
            reason = f"the notebook cannot be read: {item.damage}"
        return SubmissionResult(item.name, item.exercise, "malformed", reason, ())
    if item.cells is None:
        return SubmissionResult(item.name, spec.id, "malformed",
                                f"the notebook cannot be read: {item.damage}", tuple(questions),
                                spec.digest)
    status = max((q.status for q in questions), key=SEVERITY.__getitem__, default="ok")
    return SubmissionResult(item.name, spec.id, status, item.reason, tuple(questions),
                            spec.digest)


# --------------------------------------------------------------------------- the CSV


def _fmt(points: float) -> str:
    return f"{round(points, 2):g}"


def grades_csv(results: list[SubmissionResult]) -> str:
    """One row per submission (plus a points-possible row first); stable text."""
    exercises = sorted({r.exercise for r in results if r.questions})
    columns: list[tuple[str, str, str]] = []  # (header, exercise, question)
    maxima: dict[str, float] = {}
    for ex in exercises:
        sample = next(r for r in results if r.exercise == ex and r.questions)
        for q in sample.questions:
            header = q.question if len(exercises) == 1 else f"{ex}:{q.question}"
            columns.append((header, ex, q.question))
            maxima[header] = q.max_points
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "exercise", *[c[0] for c in columns], "total", "max",
                     "status", "problems"])
    possible = sum(maxima.values()) if len(exercises) == 1 else ""
    writer.writerow([POINTS_POSSIBLE, ",".join(exercises), *[_fmt(maxima[c[0]]) for c in columns],
                     _fmt(possible) if possible != "" else "", _fmt(possible)
                     if possible != "" else "", "", ""])
    for result in results:
        by_id = {q.question: q for q in result.questions}
        row = []
        for _header, ex, qid in columns:
            if ex == result.exercise and qid in by_id:
                row.append(_fmt(by_id[qid].points))
            elif ex == result.exercise or (not result.questions and len(exercises) == 1):
                row.append("0")
            else:
                row.append("")
        max_points = result.max_points or (possible if possible != "" else 0)
        problems = result.problems or (result.reason if result.status != "ok" else "")
        writer.writerow([result.submission, result.exercise, *row, _fmt(result.total),
                         _fmt(max_points), result.status, problems])
    return buffer.getvalue()


# --------------------------------------------------------------------------- both directions


def verify(solutions: str | os.PathLike[str], exercises: str | os.PathLike[str], *,
           jobs: int | None = None, limits: Limits | None = None,
           launcher: Any = None) -> tuple[list[str], list[SubmissionResult]]:
    """Grade `solutions/` and `exercises/` with the solutions' checks.

    Returns the problems (empty when every solution question scores full marks and every
    untouched exercise question runs cleanly and scores 0) and all results.
    """
    solutions, exercises = Path(solutions), Path(exercises)
    graded = grade_batch([solutions, exercises], source=solutions, jobs=jobs, limits=limits,
                         launcher=launcher)
    problems = []
    solution_names = {p.as_posix() for p in solutions.glob("*.ipynb")}
    for result in graded:
        is_solution = result.submission in solution_names
        if not result.questions:
            problems.append(f"{result.submission}: {result.status}: {result.reason}")
        for q in result.questions:
            if is_solution and (q.status != "ok" or q.points != q.max_points):
                detail = q.reason or "; ".join(f"{c.name}: {c.message}" for c in q.checks
                                               if not c.passed)
                problems.append(f"{result.submission} {q.question}: the solution scores "
                                f"{_fmt(q.points)}/{_fmt(q.max_points)} ({q.status}: {detail})")
            if not is_solution and (q.status != "ok" or q.points != 0):
                problems.append(f"{result.submission} {q.question}: the untouched exercise "
                                f"scores {_fmt(q.points)}/{_fmt(q.max_points)} ({q.status}"
                                f"{': ' + q.reason if q.reason else ''})")
    return problems, graded
