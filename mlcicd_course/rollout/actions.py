"""What a rollout decides to do: plain data that a controller carries out.

A strategy's `tick` returns actions and never performs them; `RolloutController`
applies `SetWeights` to a `TrafficShifter` and hands every action to an optional
callback (which may, for example, stop the server of a retired version).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SetWeights:
    """Send production traffic in these percentages (one atomic switch)."""

    weights: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"action": "set_weights", "weights": dict(self.weights)}


@dataclass(frozen=True)
class SetPreview:
    """Make `version` reachable on the preview route (testers only, no production traffic)."""

    version: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"action": "set_preview", "version": self.version}


@dataclass(frozen=True)
class ScaleDown:
    """Retire `version`: it serves nothing any more and its capacity can be released."""

    version: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"action": "scale_down", "version": self.version}


Action = SetWeights | SetPreview | ScaleDown
