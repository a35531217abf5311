"""Appending markdown to the job summary of a GitHub Actions step."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import write_text_atomic


def write_step_summary(markdown_files: Sequence[str | Path] = (), *, title: str | None = None,
                       note: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """Append a title, markdown files and a note to the job summary ($GITHUB_STEP_SUMMARY)."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        raise UserInputError("GITHUB_STEP_SUMMARY is not set: this command writes the job "
                             "summary of a GitHub Actions step")
    parts = []
    if title:
        parts.append(f"## {' '.join(title.split())}\n\n")
    for item in markdown_files:
        path = Path(item)
        if not path.is_file():
            raise UserInputError(f"markdown file not found: {path}")
        parts.append(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n")
    if note:
        parts.append(f"> {' '.join(note.split())}\n\n")
    if not parts:
        raise UserInputError("nothing to write: give markdown files, --title or --note")
    path = Path(target)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_text_atomic(path, existing + "".join(parts))
    return path
