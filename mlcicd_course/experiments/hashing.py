"""Keyed, stable hashing of unit ids into [0, 1): who sees which version, reproducibly.

A router or an experiment must put the same user in the same group every time, in
every process, on every machine, and independently across experiments. Python's
`hash()` fails all three: string hashes are salted per process (PYTHONHASHSEED) and
`hash(n) == n` for integers. We use GrowthBook's hashing scheme instead (version 2),
so that our assignments match GrowthBook's SDKs bit for bit::

    fnv1a32(text)  = FNV-1a, 32 bit: h = 0x811C9DC5; for each byte b of the UTF-8
                     text: h = ((h XOR b) * 0x01000193) mod 2**32
    bucket(seed, unit) = (fnv1a32(str(fnv1a32(seed + unit))) mod 10000) / 10000

Hashing twice mixes the bits better than once (GrowthBook's version 1,
`fnv1a32(unit + seed) mod 1000 / 1000`, "caused bias when running experiments in
parallel"). The seed keys the hash: another seed gives an independent assignment.

`mlcicd_course.serving.routing.pick` lays the weights out on [0, 1) in order, as
GrowthBook's bucket ranges do; a unit gets the version whose range holds its bucket.

`buckets` computes the same numbers for a whole array of ids with numpy, for the
analysis of an experiment with a million users (chapter 07).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
MASK32 = 0xFFFFFFFF
BUCKETS = 10_000


def fnv1a32(text: str) -> int:
    """The 32-bit FNV-1a hash of the UTF-8 bytes of `text`."""
    value = FNV_OFFSET
    for byte in text.encode("utf-8"):
        value = ((value ^ byte) * FNV_PRIME) & MASK32
    return value


def bucket_number(seed: str, unit_id: str) -> int:
    """The bucket of `unit_id` under `seed`: an integer in 0..9999 (GrowthBook v2)."""
    return fnv1a32(str(fnv1a32(seed + unit_id))) % BUCKETS


def bucket(seed: str, unit_id: str) -> float:
    """GrowthBook's version-2 hash of `unit_id` under `seed`: a number in [0, 1).

    The result has 4 decimals (10,000 buckets) and is the same in every process.
    """
    return bucket_number(seed, unit_id) / BUCKETS


def buckets(seed: str, unit_ids: Iterable[object]) -> np.ndarray:
    """`bucket(seed, str(u))` for every id, computed on whole arrays with numpy.

    Each id is turned into text with `str`, so integer ids hash like their digits.
    """
    texts = [seed + str(u) for u in unit_ids]
    first = _fnv1a32_many([t.encode("utf-8") for t in texts])
    second = _fnv1a32_many(_decimal_bytes(first))
    return (second % BUCKETS).astype(float) / BUCKETS


def _fnv1a32_many(data: Sequence[bytes]) -> np.ndarray:
    """FNV-1a of many byte strings at once: one pass per byte position, masked by length."""
    lengths = np.fromiter((len(d) for d in data), dtype=np.int64, count=len(data))
    width = int(lengths.max()) if len(data) else 0
    matrix = np.zeros((len(data), width), dtype=np.uint64)
    for row, item in enumerate(data):
        matrix[row, :len(item)] = np.frombuffer(item, dtype=np.uint8)
    values = np.full(len(data), FNV_OFFSET, dtype=np.uint64)
    for position in range(width):
        active = lengths > position
        mixed = ((values ^ matrix[:, position]) * np.uint64(FNV_PRIME)) & np.uint64(MASK32)
        values = np.where(active, mixed, values)
    return values


def _decimal_bytes(values: np.ndarray) -> list[bytes]:
    """The decimal text of each 32-bit value, as ASCII bytes (what `str(int)` gives)."""
    return [str(int(v)).encode("ascii") for v in values]
