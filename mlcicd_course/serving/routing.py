"""The routing table: which version serves whom. Immutable, checked, and chosen from purely.

The router's whole state is one `RoutingTable`. Changing the traffic means building a
new table and swapping one reference (`Router.swap`); a request reads that reference
once, so no request ever sees half of a change.

Traffic is written as integer percentages per version that sum to 100, in order::

    RoutingTable({"blue": 100, "green": 0})                      # single: all on blue
    RoutingTable({"blue": 90, "green": 10}, mode="weighted")      # canary, 10% of users
    RoutingTable({"blue": 100}, mode="mirror", shadow="green")    # copies go to green
    RoutingTable({"a": 50, "b": 50}, mode="experiment", seed="exp-7")  # an A/B test

`pick` lays the weights out on 10,000 buckets in table order (GrowthBook's bucket
ranges) and returns the version whose range holds a unit's bucket. With two versions,
shifting weight from one to the other moves the one boundary, so users cross it in
one direction only: raising green from 10% to 25% keeps every user who already had
green and adds new ones (a monotone ramp).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from mlcicd_course.experiments import hashing

MODES = ("single", "weighted", "mirror", "experiment")
BUCKETS = hashing.BUCKETS


class TableError(ValueError):
    """A routing table that is not valid, with the reason."""


@dataclass(frozen=True)
class RoutingTable:
    """Who gets which version: weights in percent, the mode, the hash seed, the shadow.

    - `weights`: version -> integer percent of users, 0-100, summing to 100 (order
      matters: it is the order of the bucket ranges).
    - `mode`: "single" (one version has 100), "weighted" (split by sticky hash),
      "mirror" (the weights answer; `shadow` also gets a copy of `shadow_percent`% of
      requests, whose answers are thrown away), "experiment" (like weighted, for A/B
      tests: requests without a unit id get the first version and are not counted).
    - `seed`: keys the hash; a new seed gives an independent assignment.
    """

    weights: Mapping[str, int]
    mode: str = "single"
    seed: str = "router"
    shadow: str | None = None
    shadow_percent: int = 100
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise TableError("weights must be a non-empty mapping of version -> percent")
        weights = dict(self.weights)
        for name, weight in weights.items():
            _check_name(name, "version")
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                raise TableError(f"weight of {name} must be an integer 0-100, got {weight!r}")
        if sum(weights.values()) != 100:
            raise TableError(f"weights must sum to 100, got {sum(weights.values())} "
                             f"({', '.join(f'{k}={v}' for k, v in weights.items())})")
        object.__setattr__(self, "weights", MappingProxyType(weights))
        object.__setattr__(self, "_order", tuple(weights))
        if self.mode not in MODES:
            raise TableError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not isinstance(self.seed, str) or not self.seed or len(self.seed) > 128:
            raise TableError("seed must be a non-empty string of at most 128 characters")
        if self.mode == "single" and sorted(weights.values())[-1] != 100:
            raise TableError("single mode needs one version at 100 (use weighted mode to split)")
        if self.mode == "experiment" and sum(w > 0 for w in weights.values()) < 2:
            raise TableError("experiment mode needs at least two versions with weight > 0")
        self._check_shadow(weights)

    def _check_shadow(self, weights: dict[str, int]) -> None:
        if self.mode != "mirror":
            if self.shadow is not None:
                raise TableError(f"shadow is only used in mirror mode, not {self.mode}")
            return
        if self.shadow is None:
            raise TableError("mirror mode needs a shadow version")
        _check_name(self.shadow, "shadow")
        if weights.get(self.shadow, 0) > 0:
            raise TableError(f"shadow {self.shadow} also answers users (weight "
                             f"{weights[self.shadow]}); a shadow must have weight 0")
        percent = self.shadow_percent
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise TableError(f"shadow_percent must be an integer 0-100, got {percent!r}")

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version the table names: the weighted ones, then the shadow."""
        return self._order + ((self.shadow,) if self.shadow and self.shadow not in
                              self._order else ())

    @property
    def primary(self) -> str:
        """The version with the largest weight (the first one on a tie)."""
        return max(self._order, key=lambda name: self.weights[name])

    def with_weights(self, weights: Mapping[str, int]) -> RoutingTable:
        """A copy with new weights; single and weighted mode follow the weights."""
        mode = self.mode
        if mode in ("single", "weighted"):
            mode = "single" if 100 in dict(weights).values() else "weighted"
        return replace(self, weights=weights, mode=mode)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as the admin API and routes.yaml write it."""
        data: dict[str, Any] = {"mode": self.mode, "weights": dict(self.weights),
                                "seed": self.seed}
        if self.mode == "mirror":
            data.update(shadow=self.shadow, shadow_percent=self.shadow_percent)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RoutingTable:
        """The inverse of `to_dict`; raises `TableError` for anything malformed."""
        if not isinstance(data, Mapping):
            raise TableError("a routing table must be a mapping with weights and mode")
        unknown = sorted(set(data) - {"mode", "weights", "seed", "shadow", "shadow_percent"})
        if unknown:
            raise TableError(f"unknown key {unknown[0]!r} in the routing table")
        if "weights" not in data:
            raise TableError("the routing table has no weights")
        return cls(**{key: value for key, value in data.items()})


def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
        raise TableError(f"{what} name must be a printable string of 1-64 characters, "
                         f"got {name!r}")


def check_known(table: RoutingTable, known: Collection[str]) -> None:
    """Raise `TableError` when the table names a version that is not a known backend."""
    unknown = [name for name in table.versions if name not in known]
    if unknown:
        raise TableError(f"unknown backend {unknown[0]!r}; known: {', '.join(sorted(known))}")


def pick(table: RoutingTable, number: int, healthy: Collection[str] | None = None) -> str | None:
    """The version whose bucket range holds `number` (0..9999).

    Ranges follow the table order, each as wide as its weight. With `healthy` given,
    versions not in it are left out and the others' ranges stretch to fill the space
    (None when no version with weight > 0 is healthy).
    """
    weights = [(name, w) for name, w in table.weights.items()
               if w > 0 and (healthy is None or name in healthy)]
    total = sum(w for _, w in weights)
    if total == 0:
        return None
    cumulative = 0
    for name, weight in weights:
        cumulative += weight
        if number * total < cumulative * BUCKETS:
            return name
    return weights[-1][0]


def assign(table: RoutingTable, unit_id: str, healthy: Collection[str] | None = None,
           ) -> str | None:
    """The version a unit (user) gets: its keyed hash bucket, then `pick`. Pure."""
    return pick(table, hashing.bucket_number(table.seed, unit_id), healthy)
