"""Every stored notebook is clean: executed in order, no errors, portable, small.

Each failure message names the command that fixes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tests.conftest import ROOT

EXECUTED = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
GENERATED = sorted(ROOT.glob("exercises/*.ipynb"))
MAX_BYTES = 1_500_000
MACHINE_PATH = re.compile(r"(/home/|/root/|/Users/|/tmp/|C:\\\\Users|site-packages)")
FIX = "run `make notebooks` (or `make notebooks NB=path/to.ipynb`)"


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def output_text(output: dict) -> str:
    text = "".join(output.get("text", ""))
    for kind, value in output.get("data", {}).items():
        if kind.startswith("text/"):
            text += "".join(value)
    return text


def test_the_course_has_its_chapter_notebooks():
    names = [p.name for p in ROOT.glob("notebooks/*.ipynb")]
    assert "00_start_here.ipynb" in names


@pytest.mark.parametrize("path", EXECUTED + GENERATED, ids=ids(EXECUTED + GENERATED))
def test_notebook_is_valid_and_has_the_course_kernel(path: Path):
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except (json.JSONDecodeError, nbformat.ValidationError) as err:
        pytest.fail(f"{path.name} is not a valid notebook ({err}); {FIX}")
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    assert kernel == "mlcicd-course", f"{path.name}: kernelspec is {kernel!r}; {FIX}"
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size // 1000} kB; shrink plots (dpi) and {FIX}"


@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_notebook_was_executed_top_to_bottom_without_errors(path: Path):
    notebook = nbformat.read(path, as_version=4)
    expected = 1
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        assert cell.execution_count == expected, (
            f"{path.name} cell {index}: execution count {cell.execution_count}, expected "
            f"{expected} (not run top to bottom); {FIX}")
        expected += 1
        for output in cell.outputs:
            assert output.output_type != "error", (
                f"{path.name} cell {index}: stored error {output.get('ename')}; fix the cell, "
                f"then {FIX}")
            found = MACHINE_PATH.search(output_text(output))
            assert not found, (
                f"{path.name} cell {index}: output shows a machine-specific path "
                f"({found.group(0)!r}); print paths relative to the course folder, then {FIX}")


@pytest.mark.parametrize("path", GENERATED, ids=ids(GENERATED))
def test_exercise_notebooks_have_no_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name} cell {index} has stored outputs; run `make exercises`")


@pytest.mark.parametrize("path", sorted(ROOT.glob("notebooks/*.ipynb")),
                         ids=ids(sorted(ROOT.glob("notebooks/*.ipynb"))))
def test_chapter_ends_with_what_you_learned(path: Path):
    notebook = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert re.search(r"^#+ What you learned", markdown, flags=re.M | re.I), (
        f"{path.name}: add a 'What you learned' section at the end")
