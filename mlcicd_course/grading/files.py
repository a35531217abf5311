"""Files that a question grades next to the notebook (e.g. a workflow the learner edits).

A question names them on its BEGIN QUESTION line: `files=NAME:PATH[,NAME:PATH]`, with
PATH relative to the notebook's folder (`03_workflows/pr-model-check.yml`). Grading reads
each file from beside the learner's notebook (never following a symbolic link, at most
`MAX_FILE_BYTES`, UTF-8), hands its text to the checks as the parameter NAME, and copies
it into the question's private working folder at the same relative path, so that the
notebook's own cells that read it run the same way there. `mlcicd exercises build`
writes the learner's copy of each file from the one in `solutions/` (SOLUTION and PROMPT
markers as `#` comments, as in a code cell).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

MAX_FILE_BYTES = 1_000_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SubmittedFile:
    """A question's file as read beside a learner's notebook: its text, or why there is none."""

    name: str
    path: str
    text: str | None
    problem: str = ""

    @property
    def sha256(self) -> str:
        data = (self.text if self.text is not None else f"\0{self.problem}").encode()
        return hashlib.sha256(data).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "text": self.text,
                "problem": self.problem}


def parse_files_option(value: str) -> tuple[tuple[str, str], ...]:
    """`a:x/a.yml,b:b.txt` -> (("a", "x/a.yml"), ("b", "b.txt")); ValueError says what is wrong."""
    pairs = []
    for part in (p for p in value.split(",") if p):
        name, sep, path = part.partition(":")
        if not sep or not _NAME.match(name):
            raise ValueError(f"files= takes NAME:PATH pairs, got {part!r}")
        pairs.append((name, safe_relative(path)))
    if not pairs:
        raise ValueError("files= names no file")
    if len({n for n, _ in pairs}) != len(pairs):
        raise ValueError("files= uses a name twice")
    return tuple(pairs)


def safe_relative(path: str) -> str:
    """`path` as a relative POSIX path that stays inside its folder (else ValueError)."""
    pure = PurePosixPath(path)
    if not path or "\\" in path or pure.is_absolute() or ".." in pure.parts or \
            re.match(r"^[A-Za-z]:", path):
        raise ValueError(f"a question's file must be a relative path inside the exercise "
                         f"folder, got {path!r}")
    return pure.as_posix()


def read_submitted(folder: Path, name: str, path: str) -> SubmittedFile:
    """The file `path` below `folder` (the notebook's folder), refusing symbolic links."""
    target = folder
    for part in PurePosixPath(path).parts:
        target = target / part
        try:
            info = os.lstat(target)
        except OSError:
            return SubmittedFile(name, path, None, f"{path} is not beside the notebook (keep "
                                                   "it where the exercise put it)")
        if stat.S_ISLNK(info.st_mode):
            return SubmittedFile(name, path, None, f"{path} is a symbolic link; submit the "
                                                   "file itself")
    if not stat.S_ISREG(info.st_mode):
        return SubmittedFile(name, path, None, f"{path} is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        return SubmittedFile(name, path, None, f"{path} has {info.st_size} bytes, more than "
                                               f"the {MAX_FILE_BYTES} a question's file may have")
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(target, flags)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return SubmittedFile(name, path, None, f"{path} cannot be read ({err.strerror})")
    try:
        return SubmittedFile(name, path, data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return SubmittedFile(name, path, None, f"{path} is not UTF-8 text")


def read_question_files(folder: Path, files: tuple[tuple[str, str], ...]
                        ) -> tuple[SubmittedFile, ...]:
    """Every file a question names, read beside the notebook in `folder`."""
    return tuple(read_submitted(folder, name, path) for name, path in files)


def place_files(workdir: str | Path, files: tuple[SubmittedFile, ...]) -> None:
    """Copy the readable files into a question's working folder at their relative paths."""
    for item in files:
        if item.text is None:
            continue
        target = Path(workdir, *PurePosixPath(item.path).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item.text, encoding="utf-8")
