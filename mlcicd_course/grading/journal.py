"""The grading journal: each notebook's result, written the moment it is graded.

`mlcicd grade --out grades.csv` appends one JSON line per graded notebook to
`grades.csv.journal.jsonl` (flushed to disk), writes the CSV atomically at the end and
then deletes the journal. If the grader dies half way, the journal keeps what was
done; `--resume` reads it back and grades only the rest. An entry is reused only for
the same notebook path with the same content (SHA-256 of the file) graded with the
same checks, so a changed submission or changed checks are graded again.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.grading.batch import SubmissionResult

JOURNAL_FORMAT = 1
Key = tuple[str, str]  # (submission as named in the results, sha256 of its file)


def journal_path(out: str | os.PathLike[str]) -> Path:
    """Where the journal of a run that writes `out` lives."""
    out = Path(out)
    return out.with_name(out.name + ".journal.jsonl")


def read_journal(path: str | os.PathLike[str]) -> dict[Key, SubmissionResult]:
    """The results recorded in a journal; a line cut short by a crash is ignored."""
    found: dict[Key, SubmissionResult] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    except (OSError, UnicodeDecodeError) as err:
        raise UserInputError(f"cannot read the grading journal {path}: {err}") from None
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            if entry.get("format") != JOURNAL_FORMAT:
                continue
            result = SubmissionResult.from_dict(entry["result"])
            found[(result.submission, str(entry["sha256"]))] = result
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            continue
    return found


class Journal:
    """Appends results to the journal file, one flushed and synced line each.

    The file is opened at the first result, so a run that stops before grading anything
    leaves the journal of an earlier run as it was; `keep=False` starts it afresh.
    """

    def __init__(self, path: str | os.PathLike[str], *, keep: bool = False):
        self.path = Path(path)
        self.keep = keep
        self._lock = threading.Lock()
        self._handle: Any = None

    def record(self, result: SubmissionResult, sha256: str) -> None:
        entry = {"format": JOURNAL_FORMAT, "sha256": sha256, "result": result.to_dict()}
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self._handle is None:
                    self._handle = open(self.path, "a" if self.keep else "w",  # noqa: SIM115
                                        encoding="utf-8")
                self._handle.write(line)
                self._handle.flush()
                os.fsync(self._handle.fileno())
            except OSError as err:
                raise UserInputError(f"cannot write the grading journal {self.path}: "
                                     f"{err.strerror}") from None

    def close(self, *, remove: bool = False) -> None:
        """Close the file; `remove` deletes it (the CSV holds everything now)."""
        if self._handle is not None:
            self._handle.close()
        if remove:
            self.path.unlink(missing_ok=True)
