"""Every stored notebook is clean: executed in order, no errors, portable, small.

Each failure message names the command that fixes it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tests import prose_numbers
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


PROSE = [(p, None) for p in EXECUTED] + [(p, ROOT / "solutions" / p.name) for p in GENERATED]


@pytest.mark.parametrize("path, outputs_from", PROSE, ids=ids([p for p, _ in PROSE]))
def test_every_number_in_the_prose_is_printed_or_explained(path: Path, outputs_from):
    """A generated exercise has no outputs: its numbers must be printed by its solution."""
    found = prose_numbers.findings(path, ROOT, outputs_from)
    assert not found, "\n".join(f.message() for f in found)


def test_every_allowed_prose_number_is_still_needed():
    outputs_from = dict(PROSE)
    listed: dict[Path, set[str]] = {}
    for name, number, reason in prose_numbers.ALLOWED:
        assert ROOT / name in outputs_from, f"ALLOWED names {name}, not a checked notebook"
        assert reason.strip(), f"ALLOWED entry {name} {number!r} needs a reason"
        listed.setdefault(ROOT / name, set()).add(number)
    stale = []
    for path, numbers in listed.items():
        needed = {f.number for f in prose_numbers.findings(path, ROOT, outputs_from[path],
                                                           allowed=())}
        stale += [f"{path.relative_to(ROOT).as_posix()} {n!r}" for n in sorted(numbers - needed)]
    assert not stale, f"remove from ALLOWED in tests/prose_numbers.py (no longer needed): {stale}"


def _chapter(tmp_path: Path, markdown: str, printed: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("print(...)", execution_count=1)
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    notebook.cells = [nbformat.v4.new_markdown_cell(markdown), code]
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("markdown, printed, unexplained", [
    # A number the output does not print, a truncated one, a percentage printed otherwise.
    ("Accuracy is 0.91 here.", "accuracy 0.905", ["0.91"]),
    ("Accuracy is 0.86.", "accuracy 0.861", ["0.86"]),
    ("About 2% of rows are blank.", "40.7% missing", ["2%"]),
    ("Now 40% of charges are blank.", "found 40.7% missing", ["40%"]),
    ("It moved by -0.003 and 6.2e-02 and 100,000 rows.", "-0.003 6.2e-02 100000", []),
    # Names, code and sourced facts are not results.
    ("See chapter 04, section 5.1, Python 3.10 and `x = 0.5`.", "", []),
    ("## 3. Heading\n\n1. first step", "", []),
    ("Refused since [2025-01-30](https://example.org/changelog).", "", []),
    ("Refused since 2025-01-30. Nothing else.", "", ["2025-01-30"]),
])
def test_the_prose_number_check(tmp_path: Path, markdown: str, printed: str,
                                unexplained: list[str]):
    path = _chapter(tmp_path, markdown, printed)
    found = prose_numbers.findings(path, tmp_path)
    assert [f.number for f in found] == unexplained
    for finding in found:
        assert "chapter.ipynb cell 0" in finding.message() and "ALLOWED" in finding.message()


def test_an_allowed_number_passes(tmp_path: Path):
    path = _chapter(tmp_path, "We set alpha to 5%.", "")
    allowed = [("chapter.ipynb", "5%", "a setting, not a result")]
    assert prose_numbers.findings(path, tmp_path, allowed=allowed) == []
    assert [f.number for f in prose_numbers.findings(path, tmp_path, allowed=())] == ["5%"]
