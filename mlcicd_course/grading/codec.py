"""Plain-data encoding of values that travel from the learner's process to the checker.

Everything the learner's process sends is data: JSON in which every object is a tag
(`{"$dict": [[k, v], ...]}`, `{"$ndarray": {...}}`, ...). `decode` rebuilds Python,
numpy and pandas values from it and refuses anything else, so a submission can never
make the checker run code (unlike pickle). Functions and other objects stay in the
learner's process; the checker gets a `RemoteRef` and calls them through the runner.

Encoded: None, bool, int, float (NaN and infinities included), str, bytes, list, tuple,
set, frozenset, dict, numpy scalars and arrays, pandas Series, DataFrame and Index,
dataclass instances and objects with `to_dict()` (as a read-only `Record`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

MAX_ITEMS = 5_000_000
MAX_DEPTH = 32
SAFE_DTYPES = {
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "object", "str", "string", "category",
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "boolean", "datetime64[ns]", "datetime64[us]", "datetime64[ms]",
    "datetime64[s]",
}


class DecodeError(ValueError):
    """The learner's process sent something that is not a well-formed encoded value."""


class Record(Mapping):
    """A read-only stand-in for a dataclass or `to_dict()` object from the learner."""

    def __init__(self, type_name: str, fields: dict[str, Any]):
        self._type = type_name
        self._fields = dict(fields)

    @property
    def type_name(self) -> str:
        return self._type

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._type} has no field {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self):
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"Record({self._type}, {self._fields!r})"


@dataclasses.dataclass(frozen=True)
class RemoteRef:
    """An object that stayed in the learner's process (a function, a model, ...)."""

    ref: int
    type_name: str
    name: str
    callable: bool
    text: str


# --------------------------------------------------------------------------- encoding


class _Encoder:
    def __init__(self, register: Callable[[Any], int]):
        self.register = register
        self.items = 0

    def count(self, n: int = 1) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise ValueError(f"the value is too large to check (more than {MAX_ITEMS:,} items)")

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"the value is nested more than {MAX_DEPTH} levels deep")
        self.count()
        if value is None or isinstance(value, (bool, str)):
            return value
        if value is Ellipsis:
            return {"$ellipsis": 1}
        if isinstance(value, int):
            return value if abs(value) < 2**53 else {"$int": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, bytes):
            return {"$bytes": value.hex()}
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in value]
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return {"$tuple": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, (set, frozenset)):
            items = [self.encode(v, depth + 1) for v in value]
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
            return {"$set": items, "frozen": isinstance(value, frozenset)}
        if isinstance(value, dict):
            return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                              for k, v in value.items()]}
        numpy_value = self.encode_numpy(value, depth)
        if numpy_value is not NotImplemented:
            return numpy_value
        pandas_value = self.encode_pandas(value, depth)
        if pandas_value is not NotImplemented:
            return pandas_value
        if hasattr(value, "_fields") and isinstance(value, tuple):  # namedtuple
            fields = {f: getattr(value, f) for f in value._fields}
            return self.record(type(value), fields, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self.record(type(value), fields, depth)
        to_dict = getattr(type(value), "to_dict", None)
        if callable(to_dict) and not isinstance(value, type):
            data = value.to_dict()
            if isinstance(data, dict):
                return self.record(type(value), data, depth)
        return self.reference(value)

    def record(self, cls: type, fields: dict, depth: int) -> Any:
        encoded = [[str(k), self.encode(v, depth + 1)] for k, v in fields.items()]
        return {"$record": {"type": _type_name(cls), "fields": encoded}}

    def reference(self, value: Any) -> Any:
        try:
            text = repr(value)
        except Exception as err:  # noqa: BLE001 - a learner's __repr__ may raise anything
            text = f"<{_type_name(type(value))}: repr failed with {type(err).__name__}>"
        return {"$ref": {"id": self.register(value), "type": _type_name(type(value)),
                         "name": str(getattr(value, "__name__", ""))[:200],
                         "callable": callable(value), "text": text[:500]}}

    def encode_numpy(self, value: Any, depth: int) -> Any:
        np = _module("numpy")
        if np is None:
            return NotImplemented
        if isinstance(value, np.generic):
            return self.encode(value.item(), depth)
        if isinstance(value, np.ndarray):
            self.count(value.size)
            kind = value.dtype.kind
            if kind in "biuf":
                return {"$ndarray": {"dtype": str(value.dtype), "shape": list(value.shape),
                                     "data": self.flat(value.ravel().tolist(), depth)}}
            if kind in "US":
                return {"$ndarray": {"dtype": "str", "shape": list(value.shape),
                                     "data": [str(v) for v in value.ravel().tolist()]}}
            if kind == "M":
                return {"$ndarray": {"dtype": str(value.dtype), "shape": list(value.shape),
                                     "data": [None if v != v else str(v)
                                              for v in value.ravel().astype(str).tolist()]}}
            return {"$ndarray": {"dtype": "object", "shape": list(value.shape),
                                 "data": [self.encode(v, depth + 1)
                                          for v in value.ravel().tolist()]}}
        return NotImplemented

    def flat(self, values: list, depth: int) -> list:
        if all(not isinstance(v, float) or math.isfinite(v) for v in values):
            return values
        return [self.encode(v, depth + 1) for v in values]

    def column(self, values: Any, depth: int) -> dict:
        pd = _module("pandas")
        dtype = str(values.dtype)
        if dtype.startswith("datetime64"):
            data = [None if pd.isna(v) else v.isoformat() for v in values]
        elif dtype == "category":
            data = [None if pd.isna(v) else self.encode(v, depth + 1) for v in values]
        else:
            raw = values.tolist() if hasattr(values, "tolist") else list(values)
            data = [None if (v is pd.NA or v is pd.NaT) else v for v in raw]
            data = self.flat(data, depth) if dtype.startswith(("float", "Float")) else [
                self.encode(v, depth + 1) for v in data]
        return {"dtype": dtype, "data": data}

    def encode_pandas(self, value: Any, depth: int) -> Any:
        pd = _module("pandas")
        if pd is None:
            return NotImplemented
        if isinstance(value, pd.DataFrame):
            self.count(value.size)
            return {"$frame": {
                "columns": [self.encode(c, depth + 1) for c in value.columns],
                "index": self.index(value.index, depth),
                "data": [self.column(value.iloc[:, i], depth) for i in range(value.shape[1])],
            }}
        if isinstance(value, pd.Series):
            self.count(len(value))
            return {"$series": {"name": self.encode(value.name, depth + 1),
                                "index": self.index(value.index, depth),
                                **self.column(value, depth)}}
        if isinstance(value, pd.Index):
            return {"$index": self.index(value, depth)}
        return NotImplemented

    def index(self, index: Any, depth: int) -> Any:
        pd = _module("pandas")
        if isinstance(index, pd.RangeIndex):
            return {"range": [index.start, index.stop, index.step],
                    "name": self.encode(index.name, depth + 1)}
        return {"values": self.column(pd.Series(index), depth),
                "name": self.encode(index.name, depth + 1)}


def _module(name: str) -> Any:
    import sys

    return sys.modules.get(name)


def _type_name(cls: type) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def encode(value: Any, register: Callable[[Any], int]) -> str:
    """JSON text for `value`; objects that are not data are kept via `register(obj) -> id`."""
    return json.dumps(_Encoder(register).encode(value), allow_nan=False,
                      separators=(",", ":"))


# --------------------------------------------------------------------------- decoding


def _reject_constant(name: str) -> Any:
    raise DecodeError(f"unexpected JSON constant {name}")


def loads(text: str | bytes) -> Any:
    """Parse JSON from the learner's process (no NaN/Infinity literals)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise DecodeError(f"not valid JSON: {err}") from None


def decode(data: Any, depth: int = 0) -> Any:
    """Rebuild the value that `encode` described; `DecodeError` for anything unexpected."""
    if depth > MAX_DEPTH + 2:
        raise DecodeError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise DecodeError("expected a tagged object")
    tag = next((k for k in data if k.startswith("$")), None)
    body = data.get(tag) if tag else None
    try:
        return _DECODERS[tag](body, data, depth)
    except KeyError:
        raise DecodeError(f"unknown tag {tag!r}") from None
    except DecodeError:
        raise
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError) as err:
        raise DecodeError(f"malformed {tag}: {err}") from None


def _float(body, data, depth):
    if body not in ("nan", "inf", "-inf"):
        raise DecodeError(f"bad float {body!r}")
    return float(body)


def _int(body, data, depth):
    if not isinstance(body, str) or len(body) > 5000:
        raise DecodeError("bad integer")
    return int(body)


def _list_of(body) -> list:
    if not isinstance(body, list):
        raise DecodeError("expected a list")
    return body


def _set(body, data, depth):
    items = [decode(v, depth + 1) for v in _list_of(body)]
    return frozenset(items) if data.get("frozen") else set(items)


def _dict(body, data, depth):
    out = {}
    for pair in _list_of(body):
        if not isinstance(pair, list) or len(pair) != 2:
            raise DecodeError("bad dict item")
        out[decode(pair[0], depth + 1)] = decode(pair[1], depth + 1)
    return out


def _record(body, data, depth):
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise DecodeError("bad record")
    fields = {}
    for pair in _list_of(body.get("fields")):
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise DecodeError("bad record field")
        fields[pair[0]] = decode(pair[1], depth + 1)
    return Record(body["type"], fields)


def _ref(body, data, depth):
    if not isinstance(body, dict) or not isinstance(body.get("id"), int):
        raise DecodeError("bad reference")
    return RemoteRef(body["id"], str(body.get("type", "?")), str(body.get("name", "")),
                     bool(body.get("callable")), str(body.get("text", "")))


def _values(column: Any, depth: int) -> tuple[list, str]:
    if not isinstance(column, dict) or not isinstance(column.get("dtype"), str):
        raise DecodeError("bad column")
    dtype = column["dtype"] if column["dtype"] in SAFE_DTYPES else "object"
    values = [decode(v, depth + 1) for v in _list_of(column.get("data"))]
    return values, dtype


def _series_from(values: list, dtype: str, index: Any = None, name: Any = None):
    import pandas as pd

    if dtype.startswith("datetime64"):
        return pd.Series(pd.to_datetime(values), index=index, name=name)
    try:
        return pd.Series(values, index=index, name=name, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values, index=index, name=name, dtype=object)


def _index(body, depth):
    import pandas as pd

    if not isinstance(body, dict):
        raise DecodeError("bad index")
    name = decode(body.get("name"), depth + 1)
    if "range" in body:
        start, stop, step = body["range"]
        if not all(isinstance(v, int) for v in (start, stop, step)) or step == 0:
            raise DecodeError("bad range index")
        return pd.RangeIndex(start, stop, step, name=name)
    values, dtype = _values(body.get("values"), depth)
    return pd.Index(_series_from(values, dtype), name=name)


def _ndarray(body, data, depth):
    import numpy as np

    if not isinstance(body, dict):
        raise DecodeError("bad array")
    shape = tuple(body.get("shape", ()))
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise DecodeError("bad array shape")
    dtype = body.get("dtype")
    values = [decode(v, depth + 1) for v in _list_of(body.get("data"))]
    if dtype not in SAFE_DTYPES:
        raise DecodeError(f"unsupported array dtype {dtype!r}")
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = values
    else:
        array = np.array(values, dtype=dtype)
    if array.size != math.prod(shape):
        raise DecodeError("array size does not match its shape")
    return array.reshape(shape)


def _series(body, data, depth):
    if not isinstance(body, dict):
        raise DecodeError("bad series")
    values, dtype = _values(body, depth)
    index = _index(body.get("index"), depth)
    if len(index) != len(values):
        raise DecodeError("series index and values differ in length")
    return _series_from(values, dtype, index=index, name=decode(body.get("name"), depth + 1))


def _frame(body, data, depth):
    import pandas as pd

    if not isinstance(body, dict):
        raise DecodeError("bad frame")
    columns = [decode(c, depth + 1) for c in _list_of(body.get("columns"))]
    index = _index(body.get("index"), depth)
    raw = _list_of(body.get("data"))
    if len(raw) != len(columns):
        raise DecodeError("frame columns and data differ in length")
    series = []
    for column in raw:
        values, dtype = _values(column, depth)
        if len(values) != len(index):
            raise DecodeError("frame column length differs from its index")
        series.append(_series_from(values, dtype, index=index))
    frame = pd.concat(series, axis=1) if series else pd.DataFrame(index=index)
    frame.columns = columns
    return frame


_DECODERS: dict[str | None, Callable[[Any, dict, int], Any]] = {
    "$float": _float,
    "$ellipsis": lambda body, data, depth: Ellipsis,
    "$int": _int,
    "$bytes": lambda body, data, depth: bytes.fromhex(body),
    "$tuple": lambda body, data, depth: tuple(decode(v, depth + 1) for v in _list_of(body)),
    "$set": _set,
    "$dict": _dict,
    "$record": _record,
    "$ref": _ref,
    "$ndarray": _ndarray,
    "$series": _series,
    "$frame": _frame,
    "$index": lambda body, data, depth: _index(body, depth),
}
