"""`pip install` steps without the network: the current environment provides packages."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_PIP_RE = re.compile(r"^\s*(?:python[0-9.]*\s+-m\s+)?pip3?\s+install\b")
_PIP_VALUE_OPTIONS = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i",
                      "--index-url", "--extra-index-url", "-f", "--find-links", "--target",
                      "-t", "--prefix", "--root", "--platform", "--python-version"}


def _logical_lines(script: str) -> list[tuple[list[int], str]]:
    """(physical line numbers, joined text) for each shell line, joining `\\` continuations."""
    result: list[tuple[list[int], str]] = []
    numbers: list[int] = []
    parts: list[str] = []
    for number, line in enumerate(script.split("\n")):
        numbers.append(number)
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1])
            continue
        parts.append(line)
        result.append((numbers, " ".join(parts)))
        numbers, parts = [], []
    if parts:
        result.append((numbers, " ".join(parts)))
    return result


@dataclass
class _PipPlan:
    script: str
    only_pip: bool
    problems: list[str]
    editable: list[Path]
    notes: list[str]


def plan_pip(script: str, cwd: Path) -> _PipPlan:
    """Neutralise `pip install` lines of a script; report what cannot work offline."""
    lines = script.split("\n")
    problems: list[str] = []
    editable: list[Path] = []
    notes: list[str] = []
    only_pip = True
    for numbers, text in _logical_lines(script):
        code = text.split(" #", 1)[0].strip()
        if not code or code.startswith("#"):
            continue
        if not _PIP_RE.match(code):
            only_pip = False
            continue
        for number in numbers:
            lines[number] = ":  # pip install: offline stand-in" if number == numbers[0] else ""
        try:
            words = shlex.split(code)
        except ValueError:
            problems.append(f"cannot read {code!r}")
            continue
        words = words[words.index("install") + 1:]
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if word in _PIP_VALUE_OPTIONS and index < len(words):
                value = words[index]
                index += 1
                if word in ("-r", "--requirement", "-c", "--constraint") and not (
                        cwd / value).is_file():
                    problems.append(f"Could not open requirements file: No such file or "
                                    f"directory: {value!r}")
                if word in ("-e", "--editable"):
                    _local_project(value, cwd, problems, editable)
                continue
            if word.startswith("-"):
                continue
            if word.startswith((".", "/")) or "/" in word:
                _local_project(word, cwd, problems, editable)
                continue
            name = re.match(r"[A-Za-z0-9_.\-]+", word)
            if name:
                try:
                    metadata.version(name.group(0))
                except metadata.PackageNotFoundError:
                    problems.append(f"{name.group(0)} is not installed in this environment "
                                    "and the local runner does not download packages")
                else:
                    notes.append(name.group(0))
    return _PipPlan("\n".join(lines), only_pip, problems, editable, notes)


def _local_project(spec: str, cwd: Path, problems: list[str], editable: list[Path]) -> None:
    folder = (cwd / re.sub(r"\[.*\]$", "", spec)).resolve()
    if not ((folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file()):
        problems.append(f"{spec} does not appear to be a Python project: neither "
                        "'setup.py' nor 'pyproject.toml' found")
    else:
        editable.append(folder)
