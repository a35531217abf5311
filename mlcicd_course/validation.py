"""Data validation: a schema for a table, inferred from reference data, saved as YAML.

A `Schema` lists the expected columns. Each `ColumnSchema` may require:

- dtype: int, float, str or bool (an int column with blanks reads as float from
  CSV, so "int" means every present value is a whole number);
- max_missing_rate: the largest share of blank values (0 = not nullable);
- min / max: bounds for numeric values;
- allowed: the allowed values of a categorical column;
- pattern: a regular expression every value must match in full (e.g. ``\\d{4}-\\d{2}``);
- unique: no value may repeat;
- mostly: the share of present values that must pass min, max, allowed and pattern
  (1.0 by default; 0.99 tolerates 1% of odd values, as Great Expectations' `mostly`).

Table-level rules: a row-count range, the largest share of fully duplicated rows, and
whether columns not in the schema are allowed. `validate` runs every check and
returns ALL failures at once (column, check, expected, found, count, example values
and row positions counted from 0), never stopping at the first.

`infer_schema` drafts a schema from reference data; like TFDV's and pandera's, its
guesses are a starting point to review (see the notebook of chapter 02): observed
min/max become bounds, text columns with few values become allowed sets, columns
without repeats become unique, and row counts may vary by a factor of 10.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from mlcicd_course.errors import UserInputError
from mlcicd_course.fileio import read_csv, read_yaml, write_text_atomic

DTYPES = ("int", "float", "str", "bool")
SCHEMA_VERSION = 1
TABLE = "(table)"
MAX_EXAMPLES = 5
COLUMN_KEYS = ("dtype", "description", "required", "max_missing_rate", "min", "max", "allowed",
               "pattern", "unique", "mostly")
SCHEMA_KEYS = ("schema_version", "description", "rows", "max_duplicate_rate",
               "allow_extra_columns", "columns")
_TRUE_FALSE = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class ColumnSchema:
    """What one column must look like (see the module docstring)."""

    name: str
    dtype: str
    max_missing_rate: float = 0.0
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    unique: bool = False
    mostly: float = 1.0
    required: bool = True
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The YAML entry of this column (defaults left out, except missing rate)."""
        data: dict[str, Any] = {"dtype": self.dtype}
        if self.description:
            data["description"] = self.description
        if not self.required:
            data["required"] = False
        data["max_missing_rate"] = self.max_missing_rate
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None:
                data[key] = int(value) if float(value).is_integer() else float(value)
        if self.allowed is not None:
            data["allowed"] = list(self.allowed)
        if self.pattern is not None:
            data["pattern"] = self.pattern
        if self.unique:
            data["unique"] = True
        if self.mostly != 1.0:
            data["mostly"] = self.mostly
        return data


@dataclass(frozen=True)
class Schema:
    """The expected columns and table-level rules."""

    columns: tuple[ColumnSchema, ...]
    min_rows: int | None = None
    max_rows: int | None = None
    max_duplicate_rate: float = 0.0
    allow_extra_columns: bool = False
    description: str = ""

    def column(self, name: str) -> ColumnSchema:
        """The column called `name` (KeyError if absent)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def with_column(self, name: str, **changes: Any) -> Schema:
        """A copy with one column's fields changed (the review step)."""
        self.column(name)
        columns = tuple(replace(c, **changes) if c.name == name else c for c in self.columns)
        return replace(self, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout."""
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        if self.description:
            data["description"] = self.description
        data["rows"] = {"min": self.min_rows, "max": self.max_rows}
        data["max_duplicate_rate"] = self.max_duplicate_rate
        data["allow_extra_columns"] = self.allow_extra_columns
        data["columns"] = {c.name: c.to_dict() for c in self.columns}
        return data

    def to_yaml(self) -> str:
        """YAML text, keys in a fixed order."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True,
                              default_flow_style=False, width=100)


def schema_from_dict(data: Any, *, source: str = "schema") -> Schema:
    """Check a mapping (as read from YAML) and build a `Schema`."""
    def fail(message: str) -> UserInputError:
        return UserInputError(f"{source}: {message}")

    if not isinstance(data, Mapping) or not isinstance(data.get("columns"), Mapping):
        raise fail("expected a mapping with a 'columns' mapping")
    unknown = sorted(set(data) - set(SCHEMA_KEYS))
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}; allowed: {', '.join(SCHEMA_KEYS)}")
    if data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise fail(f"schema_version {data.get('schema_version')!r} is not supported "
                   f"(expected {SCHEMA_VERSION})")
    rows = data.get("rows") or {}
    if not isinstance(rows, Mapping) or set(rows) - {"min", "max"}:
        raise fail("'rows' must be a mapping with 'min' and/or 'max'")
    min_rows, max_rows = rows.get("min"), rows.get("max")
    for key, value in (("rows.min", min_rows), ("rows.max", max_rows)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            raise fail(f"{key} must be a whole number >= 0")
    if min_rows is not None and max_rows is not None and min_rows > max_rows:
        raise fail(f"rows.min {min_rows} is larger than rows.max {max_rows}")
    duplicate_rate = _rate(data.get("max_duplicate_rate", 0.0), "max_duplicate_rate", fail)
    extra = data.get("allow_extra_columns", False)
    if not isinstance(extra, bool):
        raise fail("allow_extra_columns must be true or false")
    columns = tuple(_column_from_dict(str(name), spec, fail)
                    for name, spec in data["columns"].items())
    if not columns:
        raise fail("'columns' is empty")
    return Schema(columns=columns, min_rows=min_rows, max_rows=max_rows,
                  max_duplicate_rate=duplicate_rate, allow_extra_columns=extra,
                  description=str(data.get("description", "")))


def _rate(value: Any, key: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise fail(f"{key} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _column_from_dict(name: str, spec: Any, fail: Any) -> ColumnSchema:
    if not isinstance(spec, Mapping):
        raise fail(f"column {name}: expected a mapping with at least 'dtype'")
    unknown = sorted(set(spec) - set(COLUMN_KEYS))
    if unknown:
        raise fail(f"column {name}: unknown key {unknown[0]!r}; allowed: {', '.join(COLUMN_KEYS)}")
    dtype = spec.get("dtype")
    if dtype not in DTYPES:
        raise fail(f"column {name}: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    bounds = {}
    for key in ("min", "max"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or math.isnan(value)):
            raise fail(f"column {name}: {key} must be a number, got {value!r}")
        bounds[key] = None if value is None else float(value)
    if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
        raise fail(f"column {name}: min {bounds['min']:g} is larger than max {bounds['max']:g}")
    if (bounds["min"] is not None or bounds["max"] is not None) and dtype not in ("int", "float"):
        raise fail(f"column {name}: min and max apply only to int and float columns")
    allowed = spec.get("allowed")
    if allowed is not None:
        if not isinstance(allowed, list) or not allowed:
            raise fail(f"column {name}: allowed must be a non-empty list of values")
        allowed = tuple(str(v) for v in allowed)
    pattern = spec.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as err:
            raise fail(f"column {name}: pattern is not a valid regular expression: {err}") from None
        pattern = str(pattern)
    mostly = _rate(spec.get("mostly", 1.0), f"column {name}: mostly", fail)
    if mostly == 0:
        raise fail(f"column {name}: mostly must be above 0")
    for key in ("unique", "required"):
        if not isinstance(spec.get(key, False), bool):
            raise fail(f"column {name}: {key} must be true or false")
    return ColumnSchema(
        name=name, dtype=dtype,
        max_missing_rate=_rate(spec.get("max_missing_rate", 0.0),
                               f"column {name}: max_missing_rate", fail),
        min=bounds["min"], max=bounds["max"], allowed=allowed, pattern=pattern,
        unique=spec.get("unique", False), mostly=mostly, required=spec.get("required", True),
        description=str(spec.get("description", "")))


def load_schema(path: str | os.PathLike[str]) -> Schema:
    """Read and check a YAML schema file."""
    return schema_from_dict(read_yaml(path, what="schema"), source=str(path))


def save_schema(schema: Schema, path: str | os.PathLike[str], *, header: str = "") -> Path:
    """Write the schema as YAML (atomically), with optional comment lines on top.

    The text is read back with the checks of `load_schema` first: a schema that
    `load_schema` would refuse is never written (UserInputError instead).
    """
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    text = comment + schema.to_yaml()
    schema_from_dict(yaml.safe_load(text), source=f"schema for {path} (not written)")
    return write_text_atomic(path, text)


# --------------------------------------------------------------------------- inference


def _dtype_of(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        present = series.dropna()
        if len(present) and np.all(np.mod(present.to_numpy(), 1) == 0):
            return "int"
        return "float"
    return "str"


def _round_up(value: float, decimals: int) -> float:
    factor = 10 ** decimals
    return math.ceil(value * factor - 1e-9) / factor


def infer_column(series: pd.Series, *, max_categories: int = 20) -> ColumnSchema:
    """A draft ColumnSchema from one reference column (see `infer_schema`)."""
    dtype = _dtype_of(series)
    present = series.dropna()
    missing = float(series.isna().mean()) if len(series) else 0.0
    max_missing = 0.0 if missing == 0 else min(1.0, _round_up(2 * missing, 2))
    lo = hi = None
    allowed = None
    if dtype in ("int", "float") and len(present):
        values = present.astype(float)
        lo, hi = float(values.min()), float(values.max())
    if dtype == "str" and 0 < present.nunique() <= max_categories:
        allowed = tuple(sorted(present.astype(str).unique()))
    unique = dtype in ("int", "str") and len(present) >= 20 and not present.duplicated().any()
    if unique:
        allowed = None
    return ColumnSchema(name=str(series.name), dtype=dtype, max_missing_rate=max_missing,
                        min=lo, max=hi, allowed=allowed, unique=unique)


def infer_schema(frame: pd.DataFrame, *, max_categories: int = 20) -> Schema:
    """A draft schema from reference data, to be reviewed before use.

    Per column: the dtype; max_missing_rate = 0 when nothing is missing, else twice the
    observed rate rounded up to 2 decimals; numeric min and max as observed; for text
    columns with at most `max_categories` values, the sorted allowed values; unique
    when an int or text column of 20+ values has no repeats. Table: rows between a
    tenth and ten times the reference's, duplicates at most twice the observed share
    (0 if none, at most 1), no extra columns. `inference_warnings` lists what the
    draft cannot see (a wrong separator, renamed duplicate headers, numbers as text).
    """
    if frame.columns.empty:
        raise UserInputError("cannot infer a schema from a table without columns")
    n = len(frame)
    if n == 0:
        raise UserInputError("cannot infer a schema from a table without rows")
    duplicates = float(frame.duplicated().mean())
    return Schema(
        columns=tuple(infer_column(frame[c], max_categories=max_categories)
                      for c in frame.columns),
        min_rows=max(1, n // 10),
        max_rows=n * 10,
        max_duplicate_rate=0.0 if duplicates == 0 else min(1.0, _round_up(2 * duplicates, 3)),
    )


def _is_number(text: str, *, decimal_comma: bool = False) -> bool:
    try:
        float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        return False
    return True


def inference_warnings(frame: pd.DataFrame, header: list[str] | None = None) -> list[str]:
    """One line for each thing that makes a draft schema quietly wrong.

    A header with semicolons in a column name (a semicolon-separated file read as one
    column), repeated names in the raw `header` (pandas renames the second `age` to
    `age.1`), and text columns where at least 90% of the values are numbers (decimal
    commas, units, stray words), which the draft would type as str.
    """
    warnings = []
    for name in frame.columns:
        if ";" in str(name):
            warnings.append(f"column name {str(name)!r} contains semicolons: the file looks "
                            "semicolon-separated; save it with commas as separators")
            break
    counts: dict[str, int] = {}
    for name in header or []:
        counts[name] = counts.get(name, 0) + 1
    for name, count in counts.items():
        if count > 1:
            renamed = ", ".join(f"{name}.{i}" for i in range(1, count))
            warnings.append(f"column {name!r} appears {count} times in the header: "
                            f"the copies were renamed to {renamed}")
    for name in frame.columns:
        if _dtype_of(frame[name]) != "str":
            continue
        present = frame[name].dropna().astype(str)
        share = present.map(lambda v: _is_number(v, decimal_comma=True)).mean()
        if len(present) and share >= 0.9:
            text = [v for v in dict.fromkeys(present) if not _is_number(v)][:3]
            warnings.append(f"column {name!r} holds numbers stored as text ({share:.0%} of "
                            f"its values, but also {', '.join(map(repr, text))}): the draft "
                            "types it str; fix the file or the column's dtype")
    return warnings


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Failure:
    """One failed check."""

    column: str
    check: str
    expected: str
    found: str
    count: int = 0
    examples: tuple[Any, ...] = ()
    rows: tuple[int, ...] = ()

    def line(self) -> str:
        """One line of text: column, check, expected, found, examples."""
        text = f"{self.column}: {self.check}: expected {self.expected}, found {self.found}"
        if self.examples:
            text += f" (e.g. {', '.join(repr(e) for e in self.examples)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"column": self.column, "check": self.check, "expected": self.expected,
                "found": self.found, "count": self.count, "examples": list(self.examples),
                "rows": list(self.rows)}


@dataclass
class ValidationReport:
    """Every failure of one table against one schema."""

    rows: int
    columns: list[str]
    checks_run: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when no check failed."""
        return not self.failures

    def summary(self) -> str:
        """One line: valid, or how many failures in which columns."""
        if self.valid:
            return f"valid: {self.rows} rows passed {self.checks_run} checks"
        columns = sorted({f.column for f in self.failures})
        return (f"invalid: {len(self.failures)} of {self.checks_run} checks failed "
                f"({', '.join(columns)})")

    def to_dict(self) -> dict[str, Any]:
        """The report that `mlcicd validate --json` writes."""
        return {"kind": "mlcicd-validation", "valid": self.valid, "rows": self.rows,
                "columns": list(self.columns), "checks_run": self.checks_run,
                "failures": [f.to_dict() for f in self.failures]}

    def to_frame(self) -> pd.DataFrame:
        """One row per failure."""
        columns = ["column", "check", "expected", "found", "count", "examples"]
        return pd.DataFrame([{k: v for k, v in f.to_dict().items() if k in columns}
                             for f in self.failures], columns=columns)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def category_text(value: Any) -> str:
    """A category as text; whole floats lose their ".0" (a CSV column of codes with
    blanks reads as float), so 1, 1.0 and "1" are the same category."""
    return str(_plain(value))


def _failure(column: str, check: str, expected: str, found: str, mask: np.ndarray,
             series: pd.Series) -> Failure:
    rows = np.flatnonzero(mask)
    examples: list[Any] = []
    for row in rows:
        value = _plain(series.iloc[row])
        if value not in examples:
            examples.append(value)
        if len(examples) == MAX_EXAMPLES:
            break
    return Failure(column, check, expected, found, int(mask.sum()), tuple(examples),
                   tuple(int(r) for r in rows[:MAX_EXAMPLES]))


def _bound_text(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _value_checks(spec: ColumnSchema, series: pd.Series, numeric: pd.Series | None,
                  checks: list[str], failures: list[Failure]) -> None:
    """min, max, allowed and pattern, with the `mostly` tolerance."""
    present = series.notna().to_numpy()
    n_present = int(present.sum())
    tolerated = (1 - spec.mostly) * n_present
    suffix = "" if spec.mostly == 1.0 else f" for at least {spec.mostly:.0%} of values"

    def report(check: str, expected: str, bad: np.ndarray, found: str) -> None:
        checks.append(check)
        count = int(bad.sum())
        if count > tolerated + 1e-9:
            share = f"{count} of {n_present} values" if n_present else f"{count} values"
            failures.append(_failure(spec.name, check, expected + suffix, f"{share} {found}",
                                     bad, series))

    if numeric is not None:
        values = numeric.to_numpy(dtype=float, na_value=np.nan)
        if spec.min is not None:
            bad = values < spec.min
            low = np.nanmin(values[bad]) if bad.any() else None
            report("min", f">= {_bound_text(spec.min)}", bad, f"below (lowest {_bound_text(low)})")
        if spec.max is not None:
            bad = values > spec.max
            high = np.nanmax(values[bad]) if bad.any() else None
            report("max", f"<= {_bound_text(spec.max)}", bad,
                   f"above (highest {_bound_text(high)})")
    text = series.astype(object).where(series.isna(), series.map(category_text))
    if spec.allowed is not None:
        bad = present & ~text.isin(spec.allowed).to_numpy()
        unseen = sorted({str(v) for v in text[bad]})[:MAX_EXAMPLES]
        report("allowed", f"one of {', '.join(spec.allowed)}", bad,
               f"not allowed ({', '.join(unseen)})" if unseen else "not allowed")
    if spec.pattern is not None:
        regex = re.compile(spec.pattern)
        matches = np.array([v is None or (isinstance(v, float) and math.isnan(v))
                            or bool(regex.fullmatch(str(v))) for v in text], dtype=bool)
        report("pattern", f"values matching {spec.pattern}", present & ~matches,
               "not matching")


def _column_checks(spec: ColumnSchema, series: pd.Series, checks: list[str],
                   failures: list[Failure]) -> None:
    n = len(series)
    missing = series.isna().to_numpy()
    numeric: pd.Series | None = None
    checks.append("dtype")
    if spec.dtype in ("int", "float"):
        if pd.api.types.is_bool_dtype(series):
            failures.append(Failure(spec.name, "dtype", spec.dtype, "bool", n))
        else:
            numeric = pd.to_numeric(series, errors="coerce") if not \
                pd.api.types.is_numeric_dtype(series) else series.astype(float)
            not_number = ~missing & numeric.isna().to_numpy()
            bad = not_number.copy()
            if spec.dtype == "int":
                values = numeric.to_numpy(dtype=float, na_value=np.nan)
                with np.errstate(invalid="ignore"):
                    fractional = ~np.isnan(values) & (np.mod(values, 1) != 0)
                bad |= fractional
            if bad.any():
                kind = "text" if not_number.any() else "fractional numbers"
                failures.append(_failure(spec.name, "dtype", spec.dtype,
                                         f"{int(bad.sum())} {kind} (column read as "
                                         f"{series.dtype})", bad, series))
    elif spec.dtype == "str":
        if n and pd.api.types.is_numeric_dtype(series) and not missing.all():
            failures.append(_failure(spec.name, "dtype", "str",
                                     f"only numbers (column read as {series.dtype})",
                                     ~missing, series))
    elif spec.dtype == "bool" and not pd.api.types.is_bool_dtype(series):
        text = series.astype(object).where(series.isna(), series.map(lambda v: str(v).lower()))
        bad = ~missing & ~text.isin(list(_TRUE_FALSE)).to_numpy()
        if bad.any():
            failures.append(_failure(spec.name, "dtype", "bool", f"{int(bad.sum())} other "
                                     "values", bad, series))
    checks.append("max_missing_rate")
    rate = float(missing.mean()) if n else 0.0
    if rate > spec.max_missing_rate + 1e-12:
        rows = tuple(int(r) for r in np.flatnonzero(missing)[:MAX_EXAMPLES])
        failures.append(Failure(spec.name, "max_missing_rate",
                                f"<= {spec.max_missing_rate:.1%} missing",
                                f"{rate:.1%} missing ({int(missing.sum())} of {n} rows)",
                                int(missing.sum()), (), rows))
    _value_checks(spec, series, numeric, checks, failures)
    if spec.unique:
        checks.append("unique")
        repeated = (~missing & series.duplicated(keep=False).to_numpy())
        if repeated.any():
            distinct = series[repeated].nunique()
            failures.append(_failure(spec.name, "unique", "no repeated values",
                                     f"{distinct} value(s) repeated in {int(repeated.sum())} "
                                     "rows", repeated, series))


def validate(frame: pd.DataFrame, schema: Schema) -> ValidationReport:
    """Run every check of `schema` on `frame`; return all failures."""
    checks: list[str] = []
    failures: list[Failure] = []
    n = len(frame)
    checks.append("row_count")
    if (schema.min_rows is not None and n < schema.min_rows) or (
            schema.max_rows is not None and n > schema.max_rows):
        expected_rows = (f"between {_bound_text(schema.min_rows)} and "
                         f"{_bound_text(schema.max_rows)} rows")
        failures.append(Failure(TABLE, "row_count", expected_rows, f"{n} rows", n))
    expected = [c.name for c in schema.columns]
    for spec in schema.columns:
        checks.append("present")
        if spec.name not in frame.columns:
            if spec.required:
                failures.append(Failure(spec.name, "present", "the column", "no such column"))
            continue
        _column_checks(spec, frame[spec.name], checks, failures)
    checks.append("no_extra_columns")
    extra = [str(c) for c in frame.columns if c not in expected]
    if extra and not schema.allow_extra_columns:
        failures.append(Failure(TABLE, "no_extra_columns",
                                f"only the {len(expected)} schema columns",
                                f"extra column(s) {', '.join(extra)}", len(extra),
                                tuple(extra[:MAX_EXAMPLES])))
    checks.append("duplicate_rows")
    duplicated = frame.duplicated().to_numpy() if n else np.zeros(0, dtype=bool)
    rate = float(duplicated.mean()) if n else 0.0
    if rate > schema.max_duplicate_rate + 1e-12:
        rows = np.flatnonzero(duplicated)
        failures.append(Failure(TABLE, "duplicate_rows",
                                f"<= {schema.max_duplicate_rate:.1%} duplicated rows",
                                f"{int(duplicated.sum())} duplicated rows ({rate:.1%})",
                                int(duplicated.sum()), (),
                                tuple(int(r) for r in rows[:MAX_EXAMPLES])))
    return ValidationReport(rows=n, columns=[str(c) for c in frame.columns],
                            checks_run=len(checks), failures=failures)


def validate_file(path: str | os.PathLike[str], schema: Schema) -> ValidationReport:
    """Read a CSV (unreadable -> UserInputError) and validate it."""
    return validate(read_csv(path, what="data"), schema)


def to_pandera(schema: Schema) -> Any:
    """The same rules as a pandera DataFrameSchema (needs pandera installed).

    dtype int becomes float when blanks are allowed (pandas stores missing ints as
    float); max_missing_rate and `mostly` become custom checks.
    """
    try:
        import pandera.pandas as pa
    except ImportError:
        raise UserInputError("pandera is not installed: pip install pandera") from None
    types = {"int": "int64", "float": "float64", "str": "str", "bool": "bool"}
    columns = {}
    for spec in schema.columns:
        dtype = types[spec.dtype]
        if spec.dtype == "int" and spec.max_missing_rate > 0:
            dtype = "float64"
        checks = []
        if spec.max_missing_rate > 0:
            checks.append(pa.Check(lambda s, r=spec.max_missing_rate: s.isna().mean() <= r,
                                   ignore_na=False, name="max_missing_rate",
                                   error=f"at most {spec.max_missing_rate:.1%} missing"))
        value_checks = []
        if spec.min is not None:
            value_checks.append(("ge", spec.min, lambda s, v=spec.min: s >= v))
        if spec.max is not None:
            value_checks.append(("le", spec.max, lambda s, v=spec.max: s <= v))
        if spec.allowed is not None:
            value_checks.append(("isin", list(spec.allowed),
                                 lambda s, v=spec.allowed: s.astype(str).isin(v)))
        if spec.pattern is not None:
            value_checks.append(("str_matches", spec.pattern,
                                 lambda s, p=spec.pattern: s.astype(str).str.fullmatch(p)))
        for name, arg, func in value_checks:
            if spec.mostly == 1.0:
                checks.append(getattr(pa.Check, name)(arg))
            else:
                checks.append(pa.Check(lambda s, f=func, m=spec.mostly: f(s).mean() >= m,
                                       name=f"{name}_mostly_{spec.mostly:g}"))
        columns[spec.name] = pa.Column(dtype, checks=checks, nullable=spec.max_missing_rate > 0,
                                       unique=spec.unique, required=spec.required)
    table_checks = []
    if schema.min_rows is not None or schema.max_rows is not None:
        lo = schema.min_rows or 0
        hi = schema.max_rows if schema.max_rows is not None else math.inf
        table_checks.append(pa.Check(lambda df: lo <= len(df) <= hi, name="row_count",
                                     error=f"between {lo} and {hi} rows"))
    table_checks.append(pa.Check(
        lambda df, r=schema.max_duplicate_rate: df.duplicated().mean() <= r,
        name="max_duplicate_rate", error=f"at most {schema.max_duplicate_rate:.1%} duplicates"))
    return pa.DataFrameSchema(columns, checks=table_checks, strict=not schema.allow_extra_columns)
