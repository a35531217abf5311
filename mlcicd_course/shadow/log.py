"""The shadow log: one JSON line per mirrored request, written by the router.

Each line holds what the analysis needs to compare the two versions on the same
request, joined by the request id::

    {"id": "3f2a...", "time": 1764565200.125, "path": "/predict",
     "inputs": [{"tenure_months": 12, "contract": "monthly", ...}],
     "primary": {"version": "blue", "status": 200, "latency_ms": 3.1,
                 "predictions": [0], "probabilities": [[0.81, 0.19]]},
     "shadow":  {"version": "green", "status": 200, "latency_ms": 5.4,
                 "predictions": [1], "probabilities": [[0.45, 0.55]]},
     "error": null}

`error` says why the shadow gave no usable answer (a timeout, a transport failure,
an HTTP error status, an unreadable body); its predictions are then null. The file is
only ever appended to. `read_log` checks every line and names the first bad one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_text

SIDES = ("primary", "shadow")


@dataclass(frozen=True)
class Answer:
    """One version's answer to a mirrored request."""

    version: str
    status: int
    latency_ms: float | None
    predictions: list[Any] | None = None
    probabilities: list[list[float]] | None = None

    @classmethod
    def from_body(cls, version: str, status: int, latency_ms: float | None,
                  body: bytes) -> tuple[Answer, str | None]:
        """The answer a model server's /predict body gives, and why it is unusable (or None)."""
        if status >= 400:
            return cls(version, status, latency_ms), f"HTTP {status}"
        try:
            data = json.loads(body)
            predictions = data["predictions"]
            probabilities = data.get("probabilities")
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(version, status, latency_ms), "answer is not a /predict body"
        return cls(version, status, latency_ms, predictions, probabilities), None


@dataclass(frozen=True)
class ShadowRecord:
    """One line of the log: a request, both answers, and the shadow's error (or None)."""

    id: str
    time: float
    path: str
    inputs: list[dict[str, Any]] | None
    primary: Answer
    shadow: Answer
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as written to the log."""
        return asdict(self)


class ShadowLog:
    """Appends records to a JSONL file, one flushed line each (never truncates)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._handle: IO[str] | None = None

    def open(self) -> None:
        """Open the file for appending (create it if needed)."""
        self._handle = open(self.path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115

    def write(self, record: ShadowRecord) -> None:
        """Append one line."""
        if self._handle is None:
            self.open()
        assert self._handle is not None
        self._handle.write(json.dumps(record.to_dict(), separators=(",", ":")) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_log(path: str | os.PathLike[str]) -> list[ShadowRecord]:
    """Every record of a shadow log; `UserInputError` naming the first bad line and why."""
    text = read_text(path, what="shadow log")
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_line(line))
        except ValueError as err:
            raise UserInputError(f"shadow log {path}, line {number}: {err}") from None
    return records


def parse_line(line: str) -> ShadowRecord:
    """One log line as a record; ValueError saying what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    missing = [key for key in ("id", "time", *SIDES) if key not in data]
    if missing:
        raise ValueError(f"missing key {missing[0]!r}")
    if not isinstance(data["id"], str) or not data["id"]:
        raise ValueError("'id' must be a non-empty string")
    if not _number(data["time"]):
        raise ValueError(f"'time' must be a number, got {data['time']!r}")
    inputs = data.get("inputs")
    if inputs is not None and (not isinstance(inputs, list)
                               or not all(isinstance(row, Mapping) for row in inputs)):
        raise ValueError("'inputs' must be a list of row objects")
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        raise ValueError("'error' must be a string or null")
    primary, shadow = (_answer(data[side], side, inputs) for side in SIDES)
    return ShadowRecord(data["id"], float(data["time"]), str(data.get("path", "")), inputs,
                        primary, shadow, error)


def _answer(data: Any, side: str, inputs: list[Any] | None) -> Answer:
    if not isinstance(data, Mapping):
        raise ValueError(f"'{side}' must be an object")
    version, status, latency = data.get("version"), data.get("status"), data.get("latency_ms")
    if not isinstance(version, str) or not version:
        raise ValueError(f"'{side}.version' must be a non-empty string")
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError(f"'{side}.status' must be an integer, got {status!r}")
    if latency is not None and (not _number(latency) or latency < 0):
        raise ValueError(f"'{side}.latency_ms' must be a number >= 0 or null, got {latency!r}")
    predictions, probabilities = data.get("predictions"), data.get("probabilities")
    for name, value in (("predictions", predictions), ("probabilities", probabilities)):
        if value is None:
            continue
        if not isinstance(value, list):
            raise ValueError(f"'{side}.{name}' must be a list or null")
        if inputs is not None and len(value) != len(inputs):
            raise ValueError(f"'{side}.{name}' has {len(value)} entries for "
                             f"{len(inputs)} input rows")
    if probabilities is not None and not all(
            isinstance(row, list) and row and all(_number(p) and 0 <= p <= 1 for p in row)
            for row in probabilities):
        raise ValueError(f"'{side}.probabilities' must hold one list of numbers in 0..1 "
                         "per row")
    return Answer(version, status, None if latency is None else float(latency),
                  predictions, probabilities)


def _number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def wait_for_records(path: str | os.PathLike[str], count: int, *, timeout_s: float = 10.0,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> int:
    """Wait until the log at `path` has `count` lines (or the time is up); return how many."""
    deadline = clock() + timeout_s
    while True:
        try:
            with open(path, "rb") as handle:
                lines = sum(1 for _ in handle)
        except FileNotFoundError:
            lines = 0
        if lines >= count or clock() >= deadline:
            return lines
        sleep(0.02)
