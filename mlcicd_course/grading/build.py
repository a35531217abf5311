"""`mlcicd exercises build`: generate `exercises/` and the package's checks from `solutions/`.

For each `solutions/<id>.ipynb`: check the markers, write `exercises/<id>.ipynb` (the
learner's copy: solutions replaced by prompts, checks and model answers removed,
outputs cleared, deterministic cell ids) and `<bank>/<id>.json` (the public checks and
points that `check()` and `mlcicd grade` use; nothing that gives an answer away). The
same solutions always give the same bytes, so `--check` can tell whether the committed
files are up to date.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import write_json, write_text_atomic
from mlcicd_course.grading.bank import read_blueprint, spec_from_blueprint
from mlcicd_course.grading.checking import to_python
from mlcicd_course.grading.markers import Blueprint, MarkerError, exercise_source, scan
from mlcicd_course.grading.notebooks import Cell

KERNELSPEC = {"name": "mlcicd-course", "display_name": "Python (mlcicd-course)",
              "language": "python"}


@dataclass
class BuildResult:
    """What a build wrote (or, with check=True, would have to write)."""

    exercises: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"exercises": self.exercises, "written": self.written, "stale": self.stale}


def exercise_notebook(blueprint: Blueprint) -> str:
    """The learner's notebook for a solution, as JSON text (stable bytes)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    makers = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
              "raw": nbformat.v4.new_raw_cell}
    for index, (cell_type, source) in enumerate(blueprint.exercise_cells):
        cell = makers.get(cell_type, nbformat.v4.new_raw_cell)(source)
        digest = hashlib.sha256(f"{blueprint.exercise}:{index}".encode()).hexdigest()
        cell.id = digest[:12]
        cell.metadata = {}
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return nbformat.writes(notebook) + "\n"


def _check_exercise_code(blueprint: Blueprint) -> None:
    for index, (cell_type, source) in enumerate(blueprint.exercise_cells):
        if cell_type != "code":
            continue
        try:
            compile(to_python(source), f"<exercise cell {index + 1}>", "exec")
        except SyntaxError as err:
            raise MarkerError(
                f"{blueprint.name}: the learner's version of a code cell is not valid Python "
                f"({err.msg}, line {err.lineno}): {source.strip().splitlines()[0][:60]!r}; "
                "add a PROMPT block after END SOLUTION") from None


def exercise_file_text(text: str, name: str) -> str:
    """The learner's copy of a question's file: SOLUTION regions replaced by their PROMPT
    (markers are `#` comment lines, as in a code cell)."""
    markers, problems = scan([Cell(0, "raw", text)])
    if problems:
        raise MarkerError(f"{name}: {problems[0][1]}")
    open_region = None
    for marker in markers:
        if marker.region not in ("SOLUTION", "PROMPT"):
            raise MarkerError(f"{name} line {marker.line + 1}: only SOLUTION and PROMPT markers "
                              "belong in a question's file")
        if (marker.edge == "BEGIN") != (open_region is None) or (
                marker.edge == "END" and marker.region != open_region):
            raise MarkerError(f"{name} line {marker.line + 1}: {marker.edge} {marker.region} "
                              "is out of order")
        open_region = marker.region if marker.edge == "BEGIN" else None
    if open_region:
        raise MarkerError(f"{name}: BEGIN {open_region} is never closed")
    return exercise_source(Cell(0, "raw", text), name) + "\n"


def _question_files(blueprint: Blueprint, solutions: Path) -> dict[str, str]:
    """path -> the learner's copy, for every file the questions name."""
    out = {}
    for question in blueprint.questions:
        for _name, relative in question.files:
            source = solutions / relative
            try:
                text = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise MarkerError(f"{blueprint.name}: question {question.id} names the file "
                                  f"{relative}, which cannot be read in {solutions} ({err})"
                                  ) from None
            out[relative] = exercise_file_text(text, str(source))
    return out


def build(solutions: str | Path, exercises: str | Path, bank: str | Path, *,
          check: bool = False) -> BuildResult:
    """Generate (or, with `check`, compare) the exercises and bank of every solution."""
    solutions, exercises, bank = Path(solutions), Path(exercises), Path(bank)
    if not solutions.is_dir():
        raise UserInputError(f"solutions folder not found: {solutions}")
    paths = sorted(solutions.glob("*.ipynb"))
    if not paths:
        raise UserInputError(f"no solution notebooks (*.ipynb) in {solutions}")
    result = BuildResult()
    outputs: list[tuple[Path, str | dict]] = []
    for path in paths:
        blueprint = read_blueprint(path)
        _check_exercise_code(blueprint)
        spec = spec_from_blueprint(blueprint, f"{solutions.name}/{path.name}")
        result.exercises.append(spec.id)
        outputs.append((exercises / path.name, exercise_notebook(blueprint)))
        outputs.extend((exercises / relative, text)
                       for relative, text in _question_files(blueprint, solutions).items())
        outputs.append((bank / f"{spec.id}.json", spec.public().to_dict()))
    for target, content in outputs:
        if _same(target, content):
            continue
        result.stale.append(str(target))
        if not check:
            if isinstance(content, str):
                write_text_atomic(target, content)
            else:
                write_json(target, content)
            result.written.append(str(target))
    expected = {t.resolve() for t, _ in outputs}
    for folder, pattern in ((exercises, "*.ipynb"), (bank, "*.json")):
        for orphan in sorted(folder.glob(pattern)):
            if orphan.resolve() not in expected:
                result.stale.append(f"{orphan} (no solution notebook)")
    return result


def _same(target: Path, content: str | dict) -> bool:
    if not target.is_file():
        return False
    text = target.read_text(encoding="utf-8")
    if isinstance(content, str):
        return text == content
    try:
        return json.loads(text) == content
    except json.JSONDecodeError:
        return False


LEARNER_README = """# {title}

Your exercise notebooks are in `exercises/`. Install the course's package (your
instructor gives you the command), open a notebook, fill in the `...` places, save, and
run the `check("q1")` cell under each question (`check_all()` at the end): it grades the
saved notebook with the public checks and gives a hint for each. Hidden checks and the
model answers are not in this repository or in the package: they run when your
instructor grades the notebook. Some questions grade a file beside the notebook (such as a
workflow in `exercises/03_workflows/`): edit it there and keep its name and place.
"""


def export_learner(solutions: str | Path, target: str | Path, *,
                   workflow: str | Path | None = None, title: str = "Exercises") -> list[Path]:
    """Write a learner repository to `target`: the exercise notebooks, a README and
    (optionally) the autograding workflow; no solutions, hidden checks or model answers.

    `target` must not exist or be empty; it is written completely or not at all.
    """
    from mlcicd_course.grading.markers import STRIPPED_REGIONS
    from mlcicd_course.grading.notebooks import parse_notebook_text

    solutions, target = Path(solutions), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserInputError(f"{target} exists and is not an empty folder: give a new one")
    if workflow is not None and not Path(workflow).is_file():
        raise UserInputError(f"workflow file not found: {workflow}")
    paths = sorted(solutions.glob("*.ipynb")) if solutions.is_dir() else []
    if not paths:
        raise UserInputError(f"no solution notebooks (*.ipynb) in {solutions}")
    files: dict[str, str] = {"README.md": LEARNER_README.format(title=title)}
    for path in paths:
        blueprint = read_blueprint(path)
        _check_exercise_code(blueprint)
        text = exercise_notebook(blueprint)
        markers, _ = scan(parse_notebook_text(text))
        leaked = [m for m in markers if m.region in (*STRIPPED_REGIONS, "SOLUTION")]
        if leaked:  # the builder strips these; never ship a notebook where it did not
            raise UserInputError(f"{path.name}: the learner's copy still has BEGIN "
                                 f"{leaked[0].region}")
        files[f"exercises/{path.name}"] = text
        for relative, file_text in _question_files(blueprint, solutions).items():
            files[f"exercises/{relative}"] = file_text
    if workflow is not None:
        files[".github/workflows/classroom.yml"] = Path(workflow).read_text(encoding="utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        mask = os.umask(0o022)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # a folder as mkdir would make it, not mkdtemp's 0700
    except OSError as err:
        raise UserInputError(f"cannot write {target}: {err.strerror}") from None
    try:
        for name, text in files.items():
            write_text_atomic(staging / name, text)
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError):
            raise UserInputError(f"cannot write {target}: {err.strerror}") from None
        raise
    return [target / name for name in sorted(files)]
