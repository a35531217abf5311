"""Blue-green: the decision table row by row, and whole rollouts driven tick by tick.

Time comes from a FakeClock; nothing sleeps.
"""

from __future__ import annotations

import itertools
import json

import pytest

from mlcicd_course.rollout.actions import ScaleDown, SetPreview, SetWeights
from mlcicd_course.rollout.analysis import AnalysisSpec, Condition, MetricSpec
from mlcicd_course.rollout.bluegreen import (
    RULES,
    BlueGreenPhase,
    BlueGreenRollout,
    BlueGreenSpec,
    BlueGreenState,
    Event,
)
from mlcicd_course.rollout.clock import FakeClock
from mlcicd_course.rollout.controller import RolloutController
from mlcicd_course.rollout.observations import Observations, SmokeReport, VersionMetrics
from mlcicd_course.rollout.shifter import InMemoryShifter, TrafficShiftError

P, E = BlueGreenPhase, Event
PREVIEW = SetPreview("green")
SWITCH = SetWeights({"blue": 0, "green": 100})
BACK = SetWeights({"blue": 100, "green": 0})
RETIRE_GREEN, RETIRE_BLUE = ScaleDown("green"), ScaleDown("blue")

# Written out by hand, independently of RULES: (phase, event) -> (next phase, actions).
# Every pair not listed must be refused and leave the state as it was.
EXPECTED = {
    (P.DEPLOYING, E.READY): (P.PRE_PROMOTION, (PREVIEW,)),
    (P.DEPLOYING, E.ABORT): (P.ABORTED, (RETIRE_GREEN,)),
    (P.DEPLOYING, E.DEADLINE): (P.ABORTED, (RETIRE_GREEN,)),
    (P.PRE_PROMOTION, E.ANALYSIS_SUCCESSFUL): (P.PAUSED, ()),
    (P.PRE_PROMOTION, E.ANALYSIS_INCONCLUSIVE): (P.PAUSED, ()),
    (P.PRE_PROMOTION, E.ANALYSIS_FAILED): (P.ABORTED, (RETIRE_GREEN,)),
    (P.PRE_PROMOTION, E.ABORT): (P.ABORTED, (RETIRE_GREEN,)),
    (P.PRE_PROMOTION, E.DEADLINE): (P.ABORTED, (RETIRE_GREEN,)),
    (P.PAUSED, E.PROMOTE): (P.POST_PROMOTION, (SWITCH,)),
    (P.PAUSED, E.ABORT): (P.ABORTED, (RETIRE_GREEN,)),
    (P.POST_PROMOTION, E.ANALYSIS_SUCCESSFUL): (P.SCALE_DOWN_DELAY, ()),
    (P.POST_PROMOTION, E.ANALYSIS_INCONCLUSIVE): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.POST_PROMOTION, E.ANALYSIS_FAILED): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.POST_PROMOTION, E.ALARM): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.POST_PROMOTION, E.ABORT): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.POST_PROMOTION, E.DEADLINE): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.SCALE_DOWN_DELAY, E.ALARM): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.SCALE_DOWN_DELAY, E.ABORT): (P.ROLLED_BACK, (BACK, RETIRE_GREEN)),
    (P.SCALE_DOWN_DELAY, E.DEADLINE): (P.COMPLETED, (RETIRE_BLUE,)),
}
ALL_PAIRS = list(itertools.product(BlueGreenPhase, Event))


def test_the_table_in_the_module_is_the_table_in_this_test():
    assert set(RULES) == set(EXPECTED)
    assert not any(phase.terminal for phase, _ in RULES)    # nothing leaves an end state


@pytest.mark.parametrize(("phase", "event"), ALL_PAIRS, ids=lambda v: str(v))
def test_decision_table_row(phase, event):
    rollout = BlueGreenRollout(BlueGreenSpec())
    state = BlueGreenState(phase, entered_at=0.0)
    new, actions = rollout.step(state, event, now=7.0)
    last = new.history[-1]
    assert (last.at, last.from_phase, last.event) == (7.0, phase, event)
    assert state.history == ()                              # the old state is untouched
    if (phase, event) in EXPECTED:
        to, expected_actions = EXPECTED[phase, event]
        assert (new.phase, actions, last.to_phase, last.accepted) == (
            to, expected_actions, to, True)
        assert new.entered_at == 7.0
    else:
        assert (new.phase, actions, last.to_phase, last.accepted) == (phase, (), phase, False)
        assert new.entered_at == 0.0 and last.reason


@pytest.mark.parametrize(("phase", "event", "words"), [
    (P.PRE_PROMOTION, E.PROMOTE, "has not finished"),
    (P.COMPLETED, E.ABORT, "blue is retired"),
    (P.ROLLED_BACK, E.ALARM, "has ended"),
    (P.PRE_PROMOTION, E.ALARM, "no production traffic"),
])
def test_refusals_say_why(phase, event, words):
    new, _ = BlueGreenRollout(BlueGreenSpec()).step(BlueGreenState(phase, 0.0), event, 1.0)
    assert words in new.history[-1].reason


# --- whole rollouts, tick by tick ------------------------------------------------------

ERRORS = MetricSpec("error-rate", "error_rate", success_condition=Condition("<=", 0.01),
                    min_sample=50)
SMOKE = MetricSpec("smoke", "smoke_failed", success_condition=Condition("<=", 0))
PRE = AnalysisSpec((SMOKE, ERRORS))
POST = AnalysisSpec((MetricSpec("error-rate", "error_rate",
                                success_condition=Condition("<=", 0.01), interval_s=10, count=3,
                                min_sample=50),))


def good(requests: int = 200) -> VersionMetrics:
    return VersionMetrics(requests, 0, 4.0, 12.0)


def bad(requests: int = 200) -> VersionMetrics:
    return VersionMetrics(requests, requests // 10, 4.0, 12.0)


def make(ready: bool = True,
         **spec_kw) -> tuple[RolloutController, InMemoryShifter, FakeClock, list]:
    """A controller on an in-memory split; with `ready`, green became ready at t=0 and is
    on the preview route (pre-promotion analysis measures from the next tick on)."""
    spec = BlueGreenSpec(**{"pre_promotion": PRE, "post_promotion": POST, **spec_kw})
    shifter = InMemoryShifter({"blue": 100, "green": 0})
    clock = FakeClock()
    done: list = []
    controller = RolloutController(BlueGreenRollout(spec), shifter, on_action=done.append)
    controller.start(clock.now())
    if ready:
        controller.tick(clock.now(), Observations(ready={"green": True}))
        assert controller.state.phase is P.PRE_PROMOTION
    return controller, shifter, clock, done


def preview_obs(green: VersionMetrics, smoke: SmokeReport | None = None) -> Observations:
    return Observations(metrics={"green": green, "blue": good(1000)},
                        smoke={"green": smoke or SmokeReport(total=5)}, ready={"green": True})


def phases(controller: RolloutController) -> list[tuple[str | None, str]]:
    return [(r.from_phase and str(r.from_phase), str(r.to_phase))
            for r in controller.history if r.accepted]


def test_good_green_goes_all_the_way_and_blue_is_retired_after_the_delay():
    controller, shifter, clock, done = make(scale_down_delay_s=30)
    controller.tick(clock.advance(1), preview_obs(good()))
    assert controller.state.phase is P.POST_PROMOTION        # ready, analysed, auto-promoted
    assert shifter.weights() == {"blue": 0, "green": 100}
    live = Observations(metrics={"green": good()})
    for _ in range(3):
        controller.tick(clock.advance(10), live)
    assert controller.state.phase is P.SCALE_DOWN_DELAY
    assert RETIRE_BLUE not in done                          # blue still warm
    controller.tick(clock.advance(29), live)
    assert controller.state.phase is P.SCALE_DOWN_DELAY
    controller.tick(clock.advance(1), live)
    assert controller.state.phase is P.COMPLETED and done[-1] == RETIRE_BLUE
    assert phases(controller) == [
        (None, "Deploying"), ("Deploying", "PrePromotion"), ("PrePromotion", "Paused"),
        ("Paused", "PostPromotion"), ("PostPromotion", "ScaleDownDelay"),
        ("ScaleDownDelay", "Completed")]
    assert [r.at for r in controller.history] == [0, 0, 1, 1, 31, 61]


@pytest.mark.parametrize(("green", "smoke", "why"), [
    (bad(), None, "error-rate: failed (1)"),
    (good(), SmokeReport(total=5, failures=("predict returns a class",)), "smoke: failed (1)"),
])
def test_pre_promotion_failure_never_sends_production_traffic_to_green(green, smoke, why):
    controller, shifter, clock, done = make()
    controller.tick(clock.advance(1), preview_obs(green, smoke))
    assert controller.state.phase is P.ABORTED
    assert shifter.changes == [{"blue": 100, "green": 0}]   # no split was ever applied
    assert not any(isinstance(a, SetWeights) for a in done)
    assert done == [PREVIEW, RETIRE_GREEN]
    assert why in controller.history[-1].reason


def test_post_promotion_failure_switches_back_automatically_and_records_it():
    controller, shifter, clock, _ = make()
    controller.tick(clock.advance(1), preview_obs(good()))
    assert shifter.weights() == {"blue": 0, "green": 100}
    controller.tick(clock.advance(10), Observations(metrics={"green": good()}))
    controller.tick(clock.advance(10), Observations(metrics={"green": bad()}))
    assert controller.state.phase is P.ROLLED_BACK
    assert shifter.changes[-2:] == [{"blue": 0, "green": 100}, {"blue": 100, "green": 0}]
    last = controller.history[-1]
    assert (last.at, last.from_phase, last.to_phase, last.event) == (
        21.0, P.POST_PROMOTION, P.ROLLED_BACK, E.ANALYSIS_FAILED)
    assert "switched back" in last.reason and "failed (1) > failure_limit (0)" in last.reason
    assert [a.at for a in controller.applied if isinstance(a.action, SetWeights)] == [1.0, 21.0]


def test_rollback_inside_the_scale_down_delay_is_instant():
    controller, shifter, clock, done = make(scale_down_delay_s=300)
    controller.tick(clock.advance(1), preview_obs(good()))
    for _ in range(3):
        controller.tick(clock.advance(10), Observations(metrics={"green": good()}))
    assert controller.state.phase is P.SCALE_DOWN_DELAY
    assert RETIRE_BLUE not in done
    t = clock.advance(120)
    actions = controller.tick(t, Observations(abort=True))
    # one tick, no waiting: traffic is back on blue at the same instant
    assert actions == (BACK, RETIRE_GREEN)
    assert shifter.weights() == {"blue": 100, "green": 0}
    assert controller.history[-1].at == t and controller.state.phase is P.ROLLED_BACK


def test_after_blue_is_retired_a_rollback_is_refused():
    controller, shifter, clock, _ = make(scale_down_delay_s=30)
    controller.tick(clock.advance(1), preview_obs(good()))
    for _ in range(3):
        controller.tick(clock.advance(10), Observations(metrics={"green": good()}))
    controller.tick(clock.advance(30))
    assert controller.state.phase is P.COMPLETED
    assert controller.tick(clock.advance(1), Observations(abort=True)) == ()
    assert shifter.weights() == {"blue": 0, "green": 100}
    assert not controller.history[-1].accepted


def test_no_data_during_analysis_is_not_success():
    controller, shifter, clock, _ = make(progress_deadline_s=600)
    idle = Observations(metrics={"green": VersionMetrics(0, 0, 0.0, 0.0)},
                        smoke={"green": SmokeReport(total=5)}, ready={"green": True})
    while controller.state.phase is P.PRE_PROMOTION:
        controller.tick(clock.advance(1), idle)
    assert controller.state.phase is P.ABORTED                 # errors, not a pass
    assert "consecutive errors (5)" in controller.history[-1].reason
    assert shifter.changes == [{"blue": 100, "green": 0}]


def test_too_little_preview_traffic_pauses_for_a_person_instead_of_promoting():
    controller, shifter, clock, _ = make()
    controller.tick(clock.advance(1), preview_obs(good(requests=10)))   # min_sample is 50
    assert controller.state.phase is P.PAUSED
    assert controller.state.promote_at is None                    # no auto-promotion
    controller.tick(clock.advance(3600))
    assert shifter.weights() == {"blue": 100, "green": 0}
    controller.tick(clock.advance(1), Observations(approve=True))
    assert shifter.weights() == {"blue": 0, "green": 100}


def test_manual_approval_waits_and_auto_promotion_seconds_counts_from_the_pass():
    controller, shifter, clock, _ = make(auto_promotion_seconds=None)
    controller.tick(clock.advance(1), preview_obs(good()))
    controller.tick(clock.advance(10_000))
    assert controller.state.phase is P.PAUSED
    controller.tick(clock.advance(1), Observations(approve=True))
    assert controller.state.phase is P.POST_PROMOTION

    controller, shifter, clock, _ = make(auto_promotion_seconds=60)
    controller.tick(clock.advance(1), preview_obs(good()))
    assert controller.next_wakeup() == 61
    controller.tick(clock.advance(59))
    assert controller.state.phase is P.PAUSED
    controller.tick(clock.advance(1))
    assert controller.state.phase is P.POST_PROMOTION
    assert controller.history[-1].reason.endswith("(auto-promotion)")


def test_green_never_ready_is_aborted_at_the_progress_deadline():
    controller, shifter, clock, done = make(ready=False, progress_deadline_s=120)
    controller.tick(clock.advance(119), Observations(ready={"green": False}))
    assert controller.state.phase is P.DEPLOYING
    controller.tick(clock.advance(1))
    assert controller.state.phase is P.ABORTED and done == [RETIRE_GREEN]


def test_an_alarm_during_the_bake_time_switches_back():
    controller, shifter, clock, _ = make()
    controller.tick(clock.advance(1), preview_obs(good()))
    controller.tick(clock.advance(5), Observations(metrics={"green": good()},
                                                   alarms=("green-5xx",)))
    assert controller.state.phase is P.ROLLED_BACK
    assert shifter.weights() == {"blue": 100, "green": 0}
    assert "green-5xx" in controller.history[-1].reason


class RefusingShifter(InMemoryShifter):
    """Refuses traffic to green (as an unhealthy target would); with `broken`, every change."""

    def __init__(self, initial, broken: bool = False):
        super().__init__(initial)
        self.broken = broken

    def set_weights(self, weights):
        if self.broken:
            raise ConnectionError("router unreachable")
        if weights.get("green"):
            raise TrafficShiftError("green target group unhealthy")
        super().set_weights(weights)


def test_a_switch_the_target_refuses_is_aborted_and_traffic_stays_on_blue():
    spec = BlueGreenSpec(pre_promotion=PRE, post_promotion=POST)
    shifter = RefusingShifter({"blue": 100, "green": 0})
    controller = RolloutController(BlueGreenRollout(spec), shifter)
    controller.start(0.0)
    controller.tick(0.0, Observations(ready={"green": True}))
    controller.tick(1.0, preview_obs(good()))
    assert controller.state.phase is P.ROLLED_BACK
    assert shifter.weights() == {"blue": 100, "green": 0}
    assert "TrafficShiftError: green target group unhealthy" in controller.history[-1].reason


def test_when_even_the_way_back_fails_the_error_is_raised_not_hidden():
    spec = BlueGreenSpec(post_promotion=POST)
    shifter = RefusingShifter({"blue": 100, "green": 0}, broken=True)
    controller = RolloutController(BlueGreenRollout(spec), shifter)
    controller.start(0.0)
    with pytest.raises(ConnectionError, match="unreachable"):
        controller.tick(0.0, Observations(ready={"green": True}))


def test_tick_returns_a_new_state_and_leaves_the_old_one_alone():
    rollout = BlueGreenRollout(BlueGreenSpec(pre_promotion=PRE))
    start = rollout.start(0.0)
    previewed, actions = rollout.tick(start, 0.0, preview_obs(good()))
    assert start.phase is P.DEPLOYING and len(start.history) == 1
    # the analysis does not judge green on what was observed before it was on preview
    assert previewed.phase is P.PRE_PROMOTION and actions == (PREVIEW,)
    assert previewed.analysis.results == {}
    switched, actions = rollout.tick(previewed, 1.0, preview_obs(good()))
    assert switched.phase is P.POST_PROMOTION and actions == (SWITCH,)
    assert previewed.phase is P.PRE_PROMOTION
    data = json.loads(json.dumps(switched.to_dict()))        # plain data, JSON as it is
    assert data["history"][1]["to"] == "PrePromotion"
    assert data["runs"][0]["phase"] == "Successful" and data["phase"] == "PostPromotion"


def test_controller_refuses_a_tick_before_start_and_spec_checks_its_fields():
    with pytest.raises(RuntimeError, match="start"):
        RolloutController(BlueGreenRollout(BlueGreenSpec()),
                          InMemoryShifter({"blue": 100})).tick(0.0)
    with pytest.raises(ValueError, match="differ"):
        BlueGreenSpec(active="x", preview="x")
    with pytest.raises(ValueError, match="never ends"):
        BlueGreenSpec(post_promotion=AnalysisSpec((MetricSpec("m", "error_rate",
                                                               interval_s=10),)))
