"""Traffic splits, the in-memory shifter and the fake clock."""

from __future__ import annotations

import re

import pytest

from mlcicd_course.rollout.clock import Clock, FakeClock, MonotonicClock
from mlcicd_course.rollout.shifter import (
    InMemoryShifter,
    TrafficShifter,
    TrafficShiftError,
    check_split,
)


@pytest.mark.parametrize(("weights", "message"), [
    ({}, "at least one"),
    ({"blue": 60, "green": 30}, "sum to 100, got 90"),
    ({"blue": 101, "green": -1}, "0..100"),
    ({"blue": 50.0, "green": 50}, "integer"),
    ({"blue": True, "green": 99}, "integer"),
    ({"blue": 50, "red": 50}, "unknown version(s) red"),
])
def test_bad_splits_are_refused_with_the_reason(weights, message):
    with pytest.raises(TrafficShiftError, match=re.escape(message)):
        check_split(weights, known=("blue", "green"))


def test_in_memory_shifter_switches_atomically_and_keeps_what_it_had_on_a_bad_split():
    shifter = InMemoryShifter({"blue": 100, "green": 0})
    assert isinstance(shifter, TrafficShifter)
    shifter.set_weights({"blue": 0, "green": 100})
    with pytest.raises(TrafficShiftError):
        shifter.set_weights({"blue": 50, "green": 60})
    assert shifter.weights() == {"blue": 0, "green": 100}
    assert shifter.changes == [{"blue": 100, "green": 0}, {"blue": 0, "green": 100}]
    shifter.weights()["blue"] = 7                      # a copy: the split is not exposed
    assert shifter.weights()["blue"] == 0


def test_fake_clock_moves_only_when_told_and_never_backwards():
    clock = FakeClock(start=5.0)
    assert isinstance(clock, Clock) and isinstance(MonotonicClock(), Clock)
    assert clock.now() == clock.now() == 5.0
    assert clock.advance(2.5) == 7.5 and clock.set(10) == 10
    with pytest.raises(ValueError, match="backwards"):
        clock.set(9)
    real = MonotonicClock()
    assert real.now() <= real.now()
