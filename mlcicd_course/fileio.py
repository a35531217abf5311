"""Reading user files with clear errors, and writing outputs all or nothing.

Every input a command reads goes through `read_bytes` (or `read_text`, `read_json`,
`read_yaml`, `read_csv`), so a missing, folder, unreadable or undecodable file is one
`UserInputError` line. A command checks its output paths with `check_outputs` before
doing any work, and writes them together at the end with `write_outputs`: each file
goes to a temporary beside its target, and only when all are written are they renamed
into place, so an error leaves the earlier files untouched. Files are created with the
permissions a plain `open(path, "w")` would give (0666 minus the umask).
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlcicd_course.errors import UserInputError

if TYPE_CHECKING:
    import pandas as pd

PathLike = str | os.PathLike[str]
Named = tuple[str, PathLike | None]  # (what or option, path); None = not given


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _os_message(err: OSError) -> str:
    return err.strerror or _first_line(err)


def read_bytes(path: PathLike, *, what: str = "input") -> bytes:
    """The bytes of an input file; not found, a folder or unreadable -> `UserInputError`."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UserInputError(f"{what} path is a folder, expected a file: {path}")
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UserInputError(f"{what} file not found: {path}") from None
    except OSError as err:
        raise UserInputError(f"cannot read {what} file {path}: {_os_message(err)}") from None


def read_text(path: PathLike, *, what: str = "input") -> str:
    """An input file as UTF-8 text (a byte-order mark is dropped), with one-line errors."""
    data = read_bytes(path, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UserInputError(f"{what} file is not UTF-8 text: {path}: {err.reason} at byte "
                             f"{err.start}") from None


def read_json(path: PathLike, *, what: str = "JSON") -> Any:
    """Read a JSON file, with a one-line `UserInputError` when it cannot be read or parsed."""
    text = read_text(path, what=what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserInputError(f"{what} file is not valid JSON: {path}: {err}") from None


def read_yaml(path: PathLike, *, what: str = "YAML") -> Any:
    """Read a YAML file (safe loader), with one-line errors."""
    text = read_text(path, what=what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserInputError(f"{what} file is not valid YAML: {path}: {_first_line(err)}") \
            from None


def read_csv(path: PathLike, *, what: str = "data") -> pd.DataFrame:
    """Read a CSV file, turning every way it can fail into a one-line `UserInputError`."""
    import pandas as pd  # here, not at the top: servers read YAML and JSON only

    path = Path(path)
    try:
        if not path.exists():
            raise UserInputError(f"{what} file not found: {path}")
        if path.is_dir():
            raise UserInputError(f"{what} path is a folder, expected a CSV file: {path}")
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserInputError(f"{what} file is empty: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise UserInputError(f"{what} file is not a readable CSV: {path}: "
                             f"{_first_line(err)}") from None
    except OSError as err:
        raise UserInputError(f"cannot read {what} file {path}: {_os_message(err)}") from None
    if frame.columns.empty:
        raise UserInputError(f"{what} file has no columns: {path}")
    return frame


def read_header(path: PathLike, *, what: str = "data") -> list[str]:
    """The column names of a CSV file's first line as written (pandas renames repeated
    names to `age.1`; this does not)."""
    lines = read_text(path, what=what).splitlines()
    return next(csv.reader(lines[:1]), [])


# ---------------------------------------------------------------------------- outputs


def same_file(a: PathLike, b: PathLike) -> bool:
    """True when two paths name the same file (symlinks, relative paths, case-insensitive
    file systems included); for paths that do not exist yet, the resolved paths compare."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_outputs(*outputs: Named, inputs: Iterable[Named] = ()) -> None:
    """Refuse output paths that cannot be written; call before any work is done.

    `outputs` and `inputs` are (option, path) pairs; a path of None is skipped. Refused:
    a path that is a folder, the same file as an input or as another output, a parent
    that is a file ("Not a directory"), a folder the process cannot create files in.
    """
    inputs = [(name, path) for name, path in inputs if path is not None]
    seen: list[tuple[str, Path]] = []
    for option, given in outputs:
        if given is None:
            continue
        path = Path(given)
        if path.is_dir():
            raise UserInputError(f"{option} is a folder, give a file path: {path}")
        for name, other in inputs:
            if same_file(path, other):
                raise UserInputError(f"{option} {path} is the same file as the input {name}: "
                                     "refusing to overwrite it")
        for name, other in seen:
            if same_file(path, other):
                raise UserInputError(f"{option} and {name} are the same file: {path}")
        if not _is_stream(path):
            _check_writable(option, path)
        elif not os.access(path, os.W_OK):
            raise UserInputError(f"cannot write {option} {path}: Permission denied")
        seen.append((option, path))


def _is_stream(path: Path) -> bool:
    """An existing path that is neither a regular file nor a folder (/dev/stdout, a pipe):
    written in place, as a rename would replace the device or pipe with a file."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _existing_folder(option: str, path: Path, start: Path) -> Path:
    """The nearest existing folder at or above `start`, the folder `path` is written into
    ("Not a directory" if that is a file)."""
    ancestor = start
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UserInputError(f"cannot write {option}{path}: Not a directory "
                             f"({ancestor} is a file)")
    return ancestor


def check_output_folder(option: str, given: PathLike) -> None:
    """Refuse an output folder that is a file or where no file can be created; call before
    any work is done."""
    path = Path(given)
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{option} is a file, give a folder: {path}")
    _check_writable(option, path, folder=True)


def _check_writable(option: str, path: Path, *, folder: bool = False) -> None:
    """The nearest existing folder above `path` (or `path` itself, for an output folder)
    is a folder and takes new files."""
    ancestor = _existing_folder(f"{option} ", path, path if folder else path.parent)
    try:
        fd, probe = _create_temporary(ancestor / ".mlcicd-write-check")
    except OSError as err:
        raise UserInputError(f"cannot write {option} {path}: {_os_message(err)}") from None
    os.close(fd)
    probe.unlink()


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new file beside `target`, created as `open(target, "w")` would create it
    (mode 0666 minus the umask), or with the mode of `target` if it exists."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        os.chmod(tmp, os.stat(target).st_mode & 0o7777)
    except FileNotFoundError:
        pass
    except OSError:
        os.close(fd)
        tmp.unlink()
        raise
    return fd, tmp


def write_outputs(files: Mapping[PathLike, str | bytes]) -> list[Path]:
    """Write several files all or nothing; return their paths.

    Text is written as UTF-8 with "\\n" line ends. Every file is first written to a
    temporary beside its target (creating missing folders); only when all are written
    are they renamed into place. An error removes the temporaries and raises a one-line
    `UserInputError`, leaving every earlier file as it was. A device or pipe (/dev/stdout)
    is written in place, last.
    """
    pending: list[tuple[Path, Path]] = []
    streams: list[tuple[Path, bytes]] = []
    target = Path()
    try:
        for given, content in files.items():
            target = Path(given)
            data = content.encode("utf-8") if isinstance(content, str) else content
            if _is_stream(target):
                streams.append((target, data))
                continue
            _existing_folder("", target, target.parent)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = _create_temporary(target)
            except OSError as err:
                raise UserInputError(f"cannot write {target}: {_os_message(err)}") from None
            pending.append((tmp, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for index, (tmp, target) in enumerate(pending):
            try:
                os.replace(tmp, target)
            except OSError as err:
                del pending[: index]
                raise UserInputError(f"cannot write {target}: {_os_message(err)}") from None
        pending.clear()
        for target, data in streams:
            with open(target, "wb") as handle:
                handle.write(data)
    except BaseException as err:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise UserInputError(f"cannot write {target}: {_os_message(err)}") from None
        raise
    return [Path(given) for given in files]


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write `text` to `path` via a temporary file and a rename (see `write_outputs`)."""
    return write_outputs({path: text})[0]


def json_text(data: Any) -> str:
    """`data` as indented, key-sorted JSON (stable bytes for the same data)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_json(path: PathLike, data: Any) -> Path:
    """Write `data` as `json_text` (atomically)."""
    return write_text_atomic(path, json_text(data))


# The earlier name of `check_outputs`, used by the workflow and grading commands.
