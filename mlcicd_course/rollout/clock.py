"""Clocks that rollout controllers read instead of calling `time` themselves.

A controller never sleeps and never asks the operating system for the time: the caller
passes `now` (seconds) into every `tick`. Live runs read a `MonotonicClock`; tests and
simulations move a `FakeClock` forward by hand, so hours of a rollout take microseconds
and every run is the same.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Anything with `now() -> float` (seconds; only differences between readings matter)."""

    def now(self) -> float: ...


class MonotonicClock:
    """The real clock for live runs: `time.monotonic()`, which never jumps backwards."""

    def now(self) -> float:
        """Seconds since an arbitrary, fixed point."""
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to: `advance(seconds)` or `set(t)`."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """The current simulated time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        self._now += seconds
        return self._now

    def set(self, t: float) -> float:
        """Jump to time `t` (not earlier than now) and return it."""
        return self.advance(t - self._now)
