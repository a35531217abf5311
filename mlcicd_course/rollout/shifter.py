"""Where traffic goes: the one interface every rollout target implements.

Traffic is a split in integer percent per version name, summing to 100, for example
`{"blue": 100, "green": 0}`. A controller only ever calls `weights()` and
`set_weights(...)`, so the same controller drives a simulation (`InMemoryShifter`),
the live router (its admin client) and an AWS load balancer (`cloud.elb.ElbTrafficShifter`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable


class TrafficShiftError(ValueError):
    """A split that must not be applied (bad weights, unknown version, unhealthy target)."""


@runtime_checkable
class TrafficShifter(Protocol):
    """A traffic target: read the current split and replace it in one atomic step."""

    def weights(self) -> dict[str, int]:
        """The current split in percent per version."""
        ...

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Replace the whole split at once; raise `TrafficShiftError` and change nothing
        when it is invalid."""
        ...


def check_split(weights: Mapping[str, int], known: Iterable[str] | None = None) -> dict[str, int]:
    """Return `weights` as a plain dict after checking it is a valid split.

    Valid means: at least one version, every weight an integer in 0..100, the weights
    summing to exactly 100, and (when `known` is given) only known version names.
    """
    if not weights:
        raise TrafficShiftError("a split needs at least one version")
    split = dict(weights)
    for name, weight in split.items():
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise TrafficShiftError(f"weight of {name!r} must be an integer percent, "
                                    f"got {weight!r}")
        if not 0 <= weight <= 100:
            raise TrafficShiftError(f"weight of {name!r} must be in 0..100, got {weight}")
    if known is not None:
        unknown = sorted(set(split) - set(known))
        if unknown:
            raise TrafficShiftError(f"unknown version(s) {', '.join(unknown)}; "
                                    f"known: {', '.join(sorted(known))}")
    total = sum(split.values())
    if total != 100:
        raise TrafficShiftError(f"weights must sum to 100, got {total} ({split})")
    return split


class InMemoryShifter:
    """A `TrafficShifter` that only remembers the split: for simulations and tests.

    `changes` lists every split applied, in order (the first entry is the initial one).
    """

    def __init__(self, initial: Mapping[str, int]) -> None:
        self._weights = check_split(initial)
        self.changes: list[dict[str, int]] = [dict(self._weights)]

    def weights(self) -> dict[str, int]:
        """The current split (a copy)."""
        return dict(self._weights)

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Replace the split; only versions named in the initial split are accepted."""
        self._weights = check_split(weights, known=self.changes[0])
        self.changes.append(dict(self._weights))
