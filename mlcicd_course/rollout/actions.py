"""What a rollout decides: actions for a controller to carry out, and the record of why.

A strategy's `tick` returns actions and never performs them; `RolloutController`
applies `SetWeights` to a `TrafficShifter` and hands every action to an optional
callback (which may, for example, stop the server of a retired version). Every
decision, taken or refused, is kept as a `Record` in the strategy's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """Make `version` reachable on the preview route (testers only, no production traffic).

    On the live router the preview route is the testers' override header
    (`X-Route-To: <version>`); on an ALB it is a second listener
    (`ElbTrafficShifter.set_preview`).
    """

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


@dataclass(frozen=True)
class Record:
    """One decision: at `at`, `event` moved the rollout `from_phase` -> `to_phase`, or was
    refused (`accepted=False`, phase unchanged), and why. Phases and events are the
    strategy's own string enums; the first record of a rollout has no `from_phase`."""

    at: float
    from_phase: str | None
    to_phase: str
    event: str | None
    reason: str
    accepted: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"at": self.at, "from": None if self.from_phase is None else str(self.from_phase),
                "to": str(self.to_phase), "event": None if self.event is None else str(self.event),
                "reason": self.reason, "accepted": self.accepted}


@dataclass(frozen=True)
class Rule:
    """A legal transition of a strategy's decision table: the next phase, the actions by
    name (each strategy says what its names mean), and what the transition means."""

    to: Any
    actions: tuple[str, ...]
    meaning: str


def decide(rules: Mapping[tuple[Any, Any], Rule], refusal: Callable[[Any, Any], str],
           phase: Any, event: Any, now: float, detail: str = "") -> tuple[Rule | None, Record]:
    """Look (phase, event) up in a decision table: the rule, or None when the event is
    refused, and the record of either (`detail` in brackets after the reason)."""
    rule = rules.get((phase, event))
    suffix = f" ({detail})" if detail else ""
    if rule is None:
        return None, Record(now, phase, phase, event, refusal(phase, event) + suffix,
                            accepted=False)
    return rule, Record(now, phase, rule.to, event, rule.meaning + suffix)
