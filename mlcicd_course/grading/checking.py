"""Grading one question: run the learner's code in a fresh process, then the checks here.

The checks come from an `ExerciseSpec` (the package's public checks, or all of them from
the instructor's source) and run in this process;
the learner's code runs in its own process (`runner`). A check receives the learner's
variables by name, as plain data or as proxies for functions. Scoring fails closed:
a question whose code raises, exits, hangs, dies or sends junk scores 0 with a reason,
and so does a question that cannot be found in the notebook.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from mlcicd_course.grading.bank import ExerciseSpec, QuestionSpec
from mlcicd_course.grading.files import place_files
from mlcicd_course.grading.markers import QuestionSource
from mlcicd_course.grading.runner import (
    LearnerError,
    LearnerGone,
    LearnerProcess,
    LearnerTimeout,
    Limits,
)

STATUSES = ("ok", "missing", "error", "timeout", "malformed")
_MAGIC = re.compile(r"^\s*(%|!)", re.M)
_GRADING = threading.local()


class SubmissionRefused(BaseException):  # noqa: N818 - a stop signal, like LearnerTimeout
    """A check found the answer trying to get out of grading (the message says how): the
    whole question scores 0 with that reason, whatever the other checks say."""


@dataclass(frozen=True)
class GradingContext:
    """The launcher and limits of the question being graded in this thread (for helpers
    that run a learner's file in a process of its own)."""

    launcher: Any
    limits: Limits


def grading_context() -> GradingContext | None:
    """The context of the question that this thread is grading, if any."""
    return getattr(_GRADING, "context", None)


@contextlib.contextmanager
def grading_as(launcher: Any, limits: Limits) -> Iterator[GradingContext]:
    """Grade with this launcher and these limits in this thread (checks' helpers read them)."""
    earlier = grading_context()
    _GRADING.context = GradingContext(launcher, limits)
    try:
        yield _GRADING.context
    finally:
        _GRADING.context = earlier


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check."""

    name: str
    description: str
    points: float
    earned: float
    hidden: bool
    passed: bool
    message: str = ""
    ran: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "points": self.points,
                "earned": self.earned, "hidden": self.hidden, "passed": self.passed,
                "message": self.message, "ran": self.ran}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckOutcome:
        return cls(data["name"], data["description"], data["points"], data["earned"],
                   bool(data["hidden"]), bool(data["passed"]), data["message"], bool(data["ran"]))


@dataclass(frozen=True)
class QuestionResult:
    """One question of one notebook: points, status, the reason, and every check."""

    exercise: str
    question: str
    title: str
    points: float
    max_points: float
    status: str
    reason: str = ""
    checks: tuple[CheckOutcome, ...] = ()
    note: str = ""
    output: str = ""
    traceback: str = ""
    hidden_checks: int = 0
    hidden_points: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "question": self.question, "title": self.title,
                "points": self.points, "max_points": self.max_points, "status": self.status,
                "reason": self.reason, "note": self.note,
                "checks": [c.to_dict() for c in self.checks], "traceback": self.traceback,
                "hidden_checks_not_run": self.hidden_checks,
                "hidden_points_not_run": self.hidden_points}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionResult:
        """A result read back from `to_dict` (the learner's printed output is not kept)."""
        return cls(data["exercise"], data["question"], data["title"], data["points"],
                   data["max_points"], data["status"], data["reason"],
                   tuple(CheckOutcome.from_dict(c) for c in data["checks"]), data["note"],
                   traceback=data["traceback"], hidden_checks=data["hidden_checks_not_run"],
                   hidden_points=data["hidden_points_not_run"])


# --------------------------------------------------------------------------- check code

_NAMESPACES: dict[tuple[str, str], dict[str, Any]] = {}
_SETUPS: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def check_functions(spec: ExerciseSpec, question: QuestionSpec) -> dict[str, Any]:
    """The question's check functions, compiled once per process from the spec."""
    key = (spec.digest, question.id)
    with _LOCK:
        if key not in _NAMESPACES:
            if spec.digest not in _SETUPS:
                setup: dict[str, Any] = {"__name__": f"mlcicd_checks_{spec.id}",
                                         "__builtins__": builtins}
                for part, code in (("setup", spec.setup_code),
                                   ("hidden setup", spec.hidden_setup_code)):
                    exec(compile(code, f"<{spec.id} check {part}>", "exec"), setup)  # noqa: S102
                _SETUPS[spec.digest] = setup
            namespace = dict(_SETUPS[spec.digest])
            for part, code in (("checks", question.checks_code),
                               ("hidden checks", question.hidden_code)):
                compiled = compile(code, f"<{spec.id} {question.id} {part}>", "exec")
                exec(compiled, namespace)  # noqa: S102 - the checks are the package's own code
            _NAMESPACES[key] = namespace
    return _NAMESPACES[key]


def to_python(code: str) -> str:
    """A cell's code with IPython syntax (%magics, !commands) turned into plain Python."""
    if not _MAGIC.search(code):
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return code
    return TransformerManager().transform_cell(code)


# --------------------------------------------------------------------------- grading


@dataclass
class _Scoring:
    spec: ExerciseSpec
    question: QuestionSpec
    include_hidden: bool
    outcomes: list[CheckOutcome] = field(default_factory=list)

    def base(self, status: str, reason: str, **extra: Any) -> QuestionResult:
        hidden = [c for c in self.question.checks if c.hidden and not self.include_hidden]
        return QuestionResult(
            self.spec.id, self.question.id, self.question.title, 0.0 if status != "ok" else
            round(sum(o.earned for o in self.outcomes), 4), self.max_points, status, reason,
            tuple(self.outcomes) if status == "ok" else tuple(self.not_run(reason)),
            hidden_checks=len(hidden), hidden_points=sum(c.points for c in hidden), **extra)

    @property
    def max_points(self) -> float:
        return self.question.points if self.include_hidden else self.question.public_points

    def wanted(self) -> list:
        return [c for c in self.question.checks if self.include_hidden or not c.hidden]

    def not_run(self, reason: str) -> list[CheckOutcome]:
        done = {o.name: o for o in self.outcomes}
        out = []
        for check in self.wanted():
            if check.name in done:
                earlier = done[check.name]
                out.append(CheckOutcome(check.name, check.description, check.points, 0.0,
                                        check.hidden, False, earlier.message, earlier.ran))
            else:
                out.append(CheckOutcome(check.name, check.description, check.points, 0.0,
                                        check.hidden, False, f"not run: {reason}", False))
        return out


def grade_question(spec: ExerciseSpec, qid: str, source: QuestionSource, *, launcher: Any,
                   limits: Limits | None = None, include_hidden: bool = True,
                   seed: int = 0) -> QuestionResult:
    """Grade question `qid` of a notebook whose code for it is `source`."""
    limits = limits or Limits()
    question = spec.question(qid)
    scoring = _Scoring(spec, question, include_hidden and spec.complete)
    if source.status != "ok":
        return scoring.base(source.status, source.reason)
    functions = check_functions(spec, question)
    cells = [(label, to_python(code)) for label, code in source.cells]
    process = LearnerProcess(launcher, limits)
    try:
        place_files(process.workdir, source.files)
        with grading_as(launcher, limits):
            result = _grade_in(process, scoring, functions, cells, source, qid, seed)
    finally:
        output = process.close()
    return replace(result, output=output)


def _grade_in(process: LearnerProcess, scoring: _Scoring, functions: dict[str, Any],
              cells: list[tuple[str, str]], source: QuestionSource, qid: str,
              seed: int) -> QuestionResult:
    try:
        report = process.start(cells, seed=seed)
    except LearnerTimeout as stop:
        return scoring.base("timeout", f"your code for {qid} did not finish: {stop}")
    except LearnerGone as gone:
        return scoring.base("error", str(gone))
    if report["event"] != "ready":
        where = report.get("cell", "a cell")
        message = process.clean(str(report.get("message", "")))
        if report["event"] == "exit":
            reason = f"{where}: {message}; a graded notebook must not stop the interpreter"
        elif report.get("type") == "MemoryError":
            reason = (f"{where} raised MemoryError: it needs more than the "
                      f"{process.limits.memory_mb} MB memory limit")
        else:
            reason = f"{where} raised {report.get('type')}: {message}"
        return scoring.base("error", reason,
                            traceback=process.clean(str(report.get("traceback", ""))))
    notes = report.get("notes") or []
    values: dict[str, Any] = {f.name: f.text if f.text is not None else _Missing(f.name, f.problem)
                              for f in source.files}
    try:
        for check in scoring.wanted():
            scoring.outcomes.append(_run_check(check, functions[check.name], process, values,
                                               qid))
            if process.state in ("timeout", "gone"):
                raise LearnerGone("the process running your code was stopped")
    except LearnerTimeout as stop:
        return scoring.base("timeout", f"a check of {qid} waited too long for your code: "
                                       f"{stop}")
    except SubmissionRefused as refused:
        return scoring.base("error", process.clean(str(refused)))
    except LearnerGone as gone:
        if process.state == "timeout":
            return scoring.base("timeout", f"a check of {qid} waited too long for your code: "
                                           f"{process.timeout_message()}")
        return scoring.base("error", str(gone))
    note = "; ".join([n for n in [source.note, *notes] if n])
    return scoring.base("ok", "", note=note)


def _run_check(check: Any, function: Any, process: LearnerProcess, values: dict[str, Any],
               qid: str) -> CheckOutcome:
    def outcome(passed: bool, message: str = "") -> CheckOutcome:
        return CheckOutcome(check.name, check.description, check.points,
                            check.points if passed else 0.0, check.hidden, passed,
                            process.clean(message)[:2000])

    arguments = []
    for name in check.parameters:
        if name not in values:
            try:
                values[name] = process.get(name)
            except KeyError:
                values[name] = _Missing(name)
            except LearnerError as err:
                values[name] = _Missing(name, f"`{name}` could not be read: {err}")
        if isinstance(values[name], _Missing):
            return outcome(False, values[name].message(qid))
        arguments.append(values[name])
    try:
        function(*arguments)
    except AssertionError as err:
        return outcome(False, str(err) or "the answer is not right yet")
    except LearnerError as err:
        return outcome(False, f"your code raised {err.type_name}: {err.message}")
    except (LearnerTimeout, LearnerGone, SubmissionRefused, KeyboardInterrupt):
        raise
    except BaseException as err:  # noqa: BLE001 - a check that cannot handle the answer fails it
        return outcome(False, f"the check could not use your answer ({type(err).__name__}: "
                              f"{err})")
    return outcome(True)


class _Missing:
    def __init__(self, name: str, text: str = ""):
        self.name = name
        self.text = text

    def message(self, qid: str) -> str:
        return self.text or (f"`{self.name}` is not defined by your code for {qid}; keep the "
                             "name the question asks for")
