"""Reading user files with clear errors, and writing outputs without losing old ones."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlcicd_course.errors import UserInputError

if TYPE_CHECKING:
    import pandas as pd


def read_csv(path: str | os.PathLike[str], *, what: str = "data") -> pd.DataFrame:
    """Read a CSV file, turning every way it can fail into a one-line `UserInputError`."""
    import pandas as pd  # here, not at the top: servers read YAML and JSON only

    path = Path(path)
    if not path.exists():
        raise UserInputError(f"{what} file not found: {path}")
    if path.is_dir():
        raise UserInputError(f"{what} path is a folder, expected a CSV file: {path}")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserInputError(f"{what} file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserInputError(f"{what} file is not a readable CSV: {path}: {first_line}") from None
    except OSError as err:
        raise UserInputError(f"cannot read {what} file {path}: {err.strerror}") from None
    if frame.columns.empty:
        raise UserInputError(f"{what} file has no columns: {path}")
    return frame


def read_json(path: str | os.PathLike[str], *, what: str = "JSON") -> Any:
    """Read a JSON file, with a one-line `UserInputError` when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{what} file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserInputError(f"{what} file is not valid JSON: {path}: {err}") from None


def read_yaml(path: str | os.PathLike[str], *, what: str = "YAML") -> Any:
    """Read a YAML file, with a one-line `UserInputError` when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0]
        raise UserInputError(f"{what} is not valid YAML: {path}: {first}") from None


def refuse_folder_outputs(*outputs: tuple[str, str | os.PathLike[str] | None]) -> None:
    """Refuse (option, path) pairs whose path is a folder; call before any work is done."""
    for option, path in outputs:
        if path is not None and Path(path).is_dir():
            raise UserInputError(f"{option} is a folder, give a file path: {path}")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` to `path` via a temporary file and a rename.

    A crash or an error while writing leaves any previous file untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise UserInputError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise UserInputError(f"cannot write {path}: {err.strerror}") from None
        raise
    return path


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write `data` as indented, key-sorted JSON (stable bytes for the same data)."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
