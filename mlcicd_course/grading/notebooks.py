"""Reading notebooks as plain cells, tolerating the damage that submissions come with.

A submitted notebook may be truncated, hand-edited, saved by another editor, or not a
notebook at all. `read_cells` turns whatever JSON it finds into a list of `Cell`s and
raises `DamagedNotebook` (with one line saying what is wrong) only when no cell list
can be recovered. Nothing here depends on cell ids, metadata or stored outputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_NOTEBOOK_BYTES = 20_000_000


class DamagedNotebook(Exception):
    """The file is not a notebook we can read cells from (the message says why)."""


@dataclass(frozen=True)
class Cell:
    """One cell: its position (0-based), type and source text."""

    index: int
    cell_type: str
    source: str

    @property
    def label(self) -> str:
        """How messages name the cell (1-based, as a learner counts)."""
        return f"cell {self.index + 1}"


def _source_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def cells_from_json(data: Any) -> list[Cell]:
    """The cells of a parsed notebook (nbformat 4, or the cells list of v3 worksheets)."""
    if not isinstance(data, dict):
        raise DamagedNotebook("the file holds JSON but not a notebook (no top-level object)")
    raw = data.get("cells")
    if raw is None and isinstance(data.get("worksheets"), list) and data["worksheets"]:
        sheet = data["worksheets"][0]
        raw = sheet.get("cells") if isinstance(sheet, dict) else None
    if not isinstance(raw, list):
        raise DamagedNotebook("the notebook has no list of cells")
    cells = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            cells.append(Cell(index, "unknown", ""))
            continue
        cell_type = item.get("cell_type")
        source = _source_text(item.get("source", item.get("input", "")))
        if not isinstance(cell_type, str) or source is None:
            cells.append(Cell(index, "unknown", ""))
            continue
        cells.append(Cell(index, cell_type, source))
    return cells


def parse_notebook_text(text: str) -> list[Cell]:
    """The cells of a notebook given as JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DamagedNotebook(f"not valid JSON (line {err.lineno}, column {err.colno}: "
                              f"{err.msg})") from None
    return cells_from_json(data)


def read_notebook_text(path: str | os.PathLike[str]) -> str:
    """The text of a notebook file, or `DamagedNotebook` when it cannot be read as text."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise DamagedNotebook(f"the file is {size // 1_000_000} MB, more than the "
                                  f"{MAX_NOTEBOOK_BYTES // 1_000_000} MB a notebook may have")
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DamagedNotebook("the file is not UTF-8 text") from None
    except OSError as err:
        raise DamagedNotebook(f"cannot read the file ({err.strerror})") from None


def read_cells(path: str | os.PathLike[str]) -> list[Cell]:
    """The cells of the notebook at `path`; `DamagedNotebook` when there are none to read."""
    return parse_notebook_text(read_notebook_text(path))
