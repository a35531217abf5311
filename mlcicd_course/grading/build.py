"""`mlcicd exercises build`: generate `exercises/` and the package's checks from `solutions/`.

For each `solutions/<id>.ipynb`: check the markers, write `exercises/<id>.ipynb` (the
learner's copy: solutions replaced by prompts, checks and model answers removed,
outputs cleared, deterministic cell ids) and `<bank>/<id>.json` (the checks, points and
model answers that `check()` and `mlcicd grade` use). The same solutions always give
the same bytes, so `--check` can tell whether the committed files are up to date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import write_json, write_text_atomic
from mlcicd_course.grading.bank import read_blueprint, spec_from_blueprint
from mlcicd_course.grading.checking import to_python
from mlcicd_course.grading.markers import Blueprint, MarkerError

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
        outputs.append((bank / f"{spec.id}.json", spec.to_dict()))
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
