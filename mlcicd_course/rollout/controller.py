"""Carry out a rollout's decisions on a real target, and keep the record.

The strategy (for example `BlueGreenRollout`) decides; `RolloutController` holds the
current state, applies each `SetWeights` to a `TrafficShifter` (an in-memory split, the
live router, an AWS load balancer), passes every action to an optional callback, and
logs what it applied. Time is an argument of every call: the controller never sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mlcicd_course.rollout.actions import Action, Record, SetWeights
from mlcicd_course.rollout.observations import Observations
from mlcicd_course.rollout.shifter import TrafficShifter

S = TypeVar("S")


class Strategy(Protocol[S]):
    """A pure rollout state machine: blue-green here, canary in chapter 05."""

    def start(self, now: float) -> S: ...

    def tick(self, state: S, now: float, obs: Observations) -> tuple[S, tuple[Action, ...]]: ...

    def abort(self, state: S, now: float, detail: str) -> tuple[S, tuple[Action, ...]]: ...

    def next_wakeup(self, state: S) -> float | None: ...


@dataclass(frozen=True)
class Applied:
    """An action the controller carried out, and the split right after it."""

    at: float
    action: Action
    weights: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {"at": self.at, **self.action.to_dict(), "weights_after": dict(self.weights)}


class RolloutController:
    """Drive `strategy` against `shifter`: call `start(now)`, then `tick(now, obs)` repeatedly.

    When the shifter fails to apply a split (a `TrafficShiftError` such as an unhealthy
    target, or any error of the target's client), the controller sends the strategy an
    abort naming the error and applies what that decides (for blue-green after a
    switch: back to blue). If applying the abort fails as well, the error is raised:
    traffic is then in an unknown state and a person has to look.
    """

    def __init__(self, strategy: Strategy[Any], shifter: TrafficShifter, *,
                 on_action: Callable[[Action], None] | None = None) -> None:
        self.strategy = strategy
        self.shifter = shifter
        self.on_action = on_action
        self.state: Any = None
        self.applied: list[Applied] = []

    def start(self, now: float) -> None:
        """Begin a rollout at `now`."""
        self.state = self.strategy.start(now)

    def tick(self, now: float, obs: Observations | None = None) -> tuple[Action, ...]:
        """Decide at `now` from `obs` and carry out the actions; return them."""
        if self.state is None:
            raise RuntimeError("call start(now) before tick()")
        self.state, actions = self.strategy.tick(self.state, now, obs or Observations())
        return self._apply(actions, now)

    def _apply(self, actions: tuple[Action, ...], now: float,
               aborting: bool = False) -> tuple[Action, ...]:
        done: list[Action] = []
        for action in actions:
            if isinstance(action, SetWeights):
                try:
                    self.shifter.set_weights(action.weights)
                except Exception as err:   # any target: the router's client, boto3, ...
                    if aborting:            # the way back failed too: a person must act
                        raise
                    why = f"target refused {dict(action.weights)}: {type(err).__name__}: {err}"
                    self.state, after = self.strategy.abort(self.state, now, why)
                    return (*done, *self._apply(after, now, aborting=True))
            if self.on_action is not None:
                self.on_action(action)
            self.applied.append(Applied(now, action, self.shifter.weights()))
            done.append(action)
        return tuple(done)

    @property
    def history(self) -> tuple[Record, ...]:
        """Every decision so far (the strategy's records)."""
        return () if self.state is None else self.state.history

    def next_wakeup(self) -> float | None:
        """The next time a tick can change anything without new observations."""
        return None if self.state is None else self.strategy.next_wakeup(self.state)

