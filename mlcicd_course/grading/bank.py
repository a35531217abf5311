"""The package's public checks of every exercise (the "bank"), and the instructor's source.

`mlcicd exercises build` writes one JSON file per exercise to
`mlcicd_course/data/exercises/<exercise>.json`, so an installed package carries the
*public* checks with it: `check()` and `mlcicd grade` read them from there, never from
the learner's notebook. Every learner has the package, so the bank holds nothing that
gives an answer away: no hidden check's code, no hidden check setup (where expected
answers live), no model answer; a hidden check is listed by name, description and
points only. The complete checks exist only in the solution notebooks (the
instructor's source), read with `source=` / `--source DIR`; without them, hidden
checks cannot run (`ExerciseSpec.complete` is False).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.markers import Blueprint, CheckInfo, MarkerError, parse_solution
from mlcicd_course.grading.notebooks import DamagedNotebook, read_cells

BANK_FORMAT = 2
BANK_FOLDER = ("data", "exercises")


@dataclass(frozen=True)
class QuestionSpec:
    """A question's id, points, checks and model answer, as grading needs them."""

    id: str
    title: str
    points: float
    needs: tuple[str, ...]
    checks_code: str
    checks: tuple[CheckInfo, ...]
    model_answer: str
    hidden_code: str = ""
    files: tuple[tuple[str, str], ...] = ()  # (check parameter, path beside the notebook)

    @property
    def public_points(self) -> float:
        return sum(c.points for c in self.checks if not c.hidden)

    def to_dict(self) -> dict[str, Any]:
        data = {"id": self.id, "title": self.title, "points": self.points,
                "needs": list(self.needs), "checks_code": self.checks_code,
                "hidden_code": self.hidden_code,
                "checks": [c.to_dict() for c in self.checks], "model_answer": self.model_answer}
        if self.files:  # only then: the bank files of exercises without files stay the same
            data["files"] = [list(pair) for pair in self.files]
        return data

    def public(self) -> QuestionSpec:
        """This question without what gives answers away (hidden checks' code, model answer)."""
        return replace(self, hidden_code="", model_answer="")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionSpec:
        checks = tuple(CheckInfo(c["name"], c["points"], bool(c["hidden"]), c["description"],
                                 tuple(c["parameters"])) for c in data["checks"])
        return cls(data["id"], data["title"], data["points"], tuple(data["needs"]),
                   data["checks_code"], checks, data["model_answer"], data["hidden_code"],
                   tuple((name, path) for name, path in data.get("files", ())))


@dataclass(frozen=True)
class ExerciseSpec:
    """An exercise notebook's questions and checks; `digest` identifies this version."""

    id: str
    title: str
    setup_code: str
    questions: tuple[QuestionSpec, ...]
    source: str
    hidden_setup_code: str = ""
    complete: bool = True  # False for the package's public bank: hidden checks cannot run

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def question(self, qid: str) -> QuestionSpec:
        for question in self.questions:
            if question.id == qid:
                return question
        known = ", ".join(self.question_ids)
        raise UserInputError(f"exercise {self.id} has no question {qid!r} (it has {known})")

    def to_dict(self) -> dict[str, Any]:
        return {"format": BANK_FORMAT, "exercise": self.id, "title": self.title,
                "source": self.source, "setup_code": self.setup_code,
                "hidden_setup_code": self.hidden_setup_code, "complete": self.complete,
                "questions": [q.to_dict() for q in self.questions]}

    def public(self) -> ExerciseSpec:
        """What the package may carry: public checks only (see the module docstring)."""
        return replace(self, hidden_setup_code="", complete=False,
                       questions=tuple(q.public() for q in self.questions))

    @property
    def digest(self) -> str:
        """SHA-256 of the exercise's checks and points (the same on every machine)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseSpec:
        if data.get("format") != BANK_FORMAT:
            raise UserInputError(f"exercise bank format {data.get('format')!r} is not "
                                 f"{BANK_FORMAT}: run `mlcicd exercises build`")
        return cls(data["exercise"], data["title"], data["setup_code"],
                   tuple(QuestionSpec.from_dict(q) for q in data["questions"]), data["source"],
                   data["hidden_setup_code"], bool(data["complete"]))


def spec_from_blueprint(blueprint: Blueprint, source: str) -> ExerciseSpec:
    """The bank entry for a parsed solution notebook."""
    questions = tuple(QuestionSpec(q.id, q.title, q.points, q.needs, q.checks_code, q.checks,
                                   q.model_answer, q.hidden_code, q.files)
                      for q in blueprint.questions)
    return ExerciseSpec(blueprint.exercise, blueprint.title, blueprint.setup_code, questions,
                        source, blueprint.hidden_setup_code)


def read_blueprint(path: Path) -> Blueprint:
    """Parse a solution notebook strictly (errors name the notebook and the cell)."""
    name = str(path)
    try:
        cells = read_cells(path)
    except DamagedNotebook as err:
        raise MarkerError(f"{name}: {err}") from None
    return parse_solution(cells, name, expected_id=path.stem)


def bank_text(exercise: str) -> str | None:
    """The bank file's text for `exercise` from the installed package, if it exists."""
    folder = resources.files("mlcicd_course").joinpath(*BANK_FOLDER)
    entry = folder.joinpath(f"{exercise}.json")
    try:
        return entry.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, OSError):
        return None


def package_bank_dir() -> Path:
    """Where `mlcicd exercises build` writes the bank (inside the package)."""
    return Path(str(resources.files("mlcicd_course"))).joinpath(*BANK_FOLDER)


def available_exercises(source: str | Path | None = None) -> list[str]:
    """Ids of the exercises that can be graded (from the package, or from `source`)."""
    if source is not None:
        return sorted(p.stem for p in Path(source).glob("*.ipynb"))
    folder = resources.files("mlcicd_course").joinpath(*BANK_FOLDER)
    try:
        return sorted(Path(e.name).stem for e in folder.iterdir() if e.name.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError, OSError):
        return []


def load_exercise(exercise: str, source: str | Path | None = None) -> ExerciseSpec:
    """The checks of `exercise`: from the package's bank, or from solution notebooks."""
    if source is not None:
        path = Path(source) / f"{exercise}.ipynb"
        if not path.is_file():
            raise UserInputError(f"no solution notebook {path} for exercise {exercise}")
        return spec_from_blueprint(read_blueprint(path), f"{Path(source).name}/{path.name}")
    text = bank_text(exercise)
    if text is None:
        known = ", ".join(available_exercises()) or "none"
        raise UserInputError(f"the package has no checks for exercise {exercise!r} (it has "
                             f"{known}); run `mlcicd exercises build`, or pass --source")
    try:
        return ExerciseSpec.from_dict(json.loads(text))
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise UserInputError(f"the package's checks for {exercise} are damaged ({err}); run "
                             "`mlcicd exercises build`") from None
