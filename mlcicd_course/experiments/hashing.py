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

from collections.abc import Iterable

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
    texts = list(map(str, unit_ids))
    data = np.frombuffer("".join(texts).encode("utf-8"), dtype=np.uint8)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if len(data) != lengths.sum():  # some text is not ASCII: count its UTF-8 bytes
        lengths = np.fromiter((len(t.encode("utf-8")) for t in texts), dtype=np.int64,
                              count=len(texts))
    # FNV-1a reads bytes in order, so the seed's part of "seed + id" is hashed once.
    first = _fnv1a32_packed(data, lengths, start=fnv1a32(seed))
    return (_fnv1a32_decimal(first) % BUCKETS).astype(float) / BUCKETS


def _fnv1a32_packed(data: np.ndarray, lengths: np.ndarray, start: int) -> np.ndarray:
    """FNV-1a, continued from state `start`, of each of the byte strings stored end to end
    in `data` (the i-th is `lengths[i]` bytes long): one pass per byte position.

    32-bit unsigned arithmetic wraps around in numpy, which is the `mod 2**32`.
    """
    values = np.full(len(lengths), start, dtype=np.uint32)
    width = int(lengths.max()) if len(lengths) else 0
    padded = np.concatenate([data, np.zeros(width, dtype=np.uint8)])  # no index runs off
    index = np.cumsum(lengths) - lengths
    prime = np.uint32(FNV_PRIME)
    for position in range(width):
        values = np.where(lengths > position, (values ^ padded[index]) * prime, values)
        index += 1
    return values


def _fnv1a32_decimal(values: np.ndarray) -> np.ndarray:
    """FNV-1a of the decimal text of each 32-bit value (`fnv1a32(str(v))`), digit by digit.

    Digits are read from the 10**9 place down; places above a value's first digit are
    skipped, which is how `str` leaves out leading zeros.
    """
    hashed = np.full(len(values), FNV_OFFSET, dtype=np.uint32)
    prime = np.uint32(FNV_PRIME)
    for place in range(9, -1, -1):  # a 32-bit value has at most 10 digits
        digit = (values // np.uint32(10**place) % np.uint32(10) + np.uint32(ord("0")))
        mixed = (hashed ^ digit) * prime
        hashed = mixed if place == 0 else np.where(values >= 10**place, mixed, hashed)
    return hashed
