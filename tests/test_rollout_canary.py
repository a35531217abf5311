"""Canary releases: the decision table row by row, and whole releases driven tick by tick.

Time is an argument (a FakeClock where a loop needs one); nothing sleeps.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from mlcicd_course.rollout.actions import ScaleDown, SetWeights
from mlcicd_course.rollout.analysis import (
    AnalysisPhase,
    AnalysisSpec,
    Condition,
    Measurement,
    MetricSpec,
    assess_metric,
)
from mlcicd_course.rollout.canary import (
    RULES,
    Analyze,
    CanaryPhase,
    CanaryRollout,
    CanarySpec,
    Event,
    Pause,
    SetWeight,
    linear_weights,
    step_weights,
)
from mlcicd_course.rollout.clock import FakeClock
from mlcicd_course.rollout.controller import RolloutController
from mlcicd_course.rollout.guardrail import Guardrail
from mlcicd_course.rollout.observations import Observations, VersionMetrics
from mlcicd_course.rollout.shifter import InMemoryShifter, TrafficShiftError

P, E = CanaryPhase, Event
BACK = (SetWeights({"stable": 100, "canary": 0}), ScaleDown("canary"))
PROMOTE = (SetWeights({"stable": 0, "canary": 100}), ScaleDown("stable"))

# Written out by hand, independently of RULES: (phase, event) -> (next phase, actions).
# SET_WEIGHT is tested with the current step a SetWeight(10). Every other pair is refused.
EXPECTED = {
    (P.PROGRESSING, E.SET_WEIGHT): (P.PROGRESSING, (SetWeights({"stable": 90, "canary": 10}),)),
    (P.PROGRESSING, E.STEP_DONE): (P.PROGRESSING, ()),
    (P.PROGRESSING, E.MANUAL_PAUSE): (P.PAUSED, ()),
    (P.PROGRESSING, E.STEPS_DONE): (P.COMPLETED, PROMOTE),
    (P.PROGRESSING, E.ANALYSIS_SUCCESSFUL): (P.PROGRESSING, ()),
    (P.PROGRESSING, E.ANALYSIS_INCONCLUSIVE): (P.PAUSED, ()),
    (P.PROGRESSING, E.ANALYSIS_FAILED): (P.ABORTED, BACK),
    (P.PROGRESSING, E.GUARDRAIL): (P.ABORTED, BACK),
    (P.PROGRESSING, E.ALARM): (P.ABORTED, BACK),
    (P.PROGRESSING, E.ABORT): (P.ABORTED, BACK),
    (P.PROGRESSING, E.DEADLINE): (P.ABORTED, BACK),
    (P.PAUSED, E.PROMOTE): (P.PROGRESSING, ()),
    (P.PAUSED, E.ANALYSIS_FAILED): (P.ABORTED, BACK),
    (P.PAUSED, E.GUARDRAIL): (P.ABORTED, BACK),
    (P.PAUSED, E.ALARM): (P.ABORTED, BACK),
    (P.PAUSED, E.ABORT): (P.ABORTED, BACK),
}
ALL_PAIRS = list(itertools.product(CanaryPhase, Event))

ERRORS = MetricSpec("errors", "error_rate_excess", failure_condition=Condition(">", 0.02),
                    interval_s=60, count=3, min_sample=50)


def metrics(requests: int, errors: int, p99: float = 20.0, accuracy: float | None = None):
    return VersionMetrics(requests, errors, 5.0, p99, accuracy=accuracy)


def obs(canary=(100, 0), stable=(900, 0), totals=None, **options) -> Observations:
    """A window with `canary` and `stable` (requests, errors); totals default to the window."""
    window = {"canary": metrics(*canary), "stable": metrics(*stable)}
    return Observations(metrics=window, totals=totals or window, **options)


def rollout(*steps, **options) -> CanaryRollout:
    options.setdefault("guardrail", None)
    return CanaryRollout(CanarySpec(steps=tuple(steps), **options))


def test_the_table_in_the_module_is_the_table_in_this_test():
    assert set(RULES) == set(EXPECTED)


@pytest.mark.parametrize(("phase", "event"), ALL_PAIRS, ids=lambda x: str(x))
def test_every_phase_event_pair_does_what_the_table_says(phase, event):
    machine = rollout(SetWeight(10), Pause(60))
    state = replace(machine.start(0.0), phase=phase)
    new, actions = machine.step(state, event, 5.0, "detail")
    last = new.history[-1]
    if (phase, event) in EXPECTED:
        to, expected_actions = EXPECTED[phase, event]
        assert (new.phase, actions) == (to, expected_actions)
        assert last.accepted and last.reason.endswith("(detail)")
    else:
        assert (new.phase, actions, last.accepted) == (phase, (), False)
        assert new.weight == state.weight


def test_a_release_walks_its_steps_and_promotes():
    machine = rollout(SetWeight(10), Pause(60), SetWeight(50), Pause(60))
    controller = RolloutController(machine, InMemoryShifter({"stable": 100, "canary": 0}))
    controller.start(0.0)
    weights = []
    for t in (1, 30, 61, 100, 121, 122):
        controller.tick(float(t), obs())
        weights.append((controller.state.phase, controller.shifter.weights()["canary"]))
    assert weights == [(P.PROGRESSING, 10), (P.PROGRESSING, 10), (P.PROGRESSING, 50),
                       (P.PROGRESSING, 50), (P.COMPLETED, 100), (P.COMPLETED, 100)]
    events = [r.event for r in controller.history if r.event]
    assert events == [E.SET_WEIGHT, E.STEP_DONE, E.SET_WEIGHT, E.STEP_DONE, E.STEPS_DONE]


def test_a_pause_waits_for_its_minimum_sample_too():
    machine = rollout(SetWeight(5), Pause(60, min_requests=200), SetWeight(20))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs(totals={"canary": metrics(10, 0)}))
    # time is up but the canary has served 150 - 10 requests in this step: no advance
    state, actions = machine.tick(state, 100.0, obs(totals={"canary": metrics(150, 0)}))
    assert (state.step, state.weight, actions) == (1, 5, ())
    state, actions = machine.tick(state, 110.0, obs(totals={"canary": metrics(210, 0)}))
    assert state.weight == 20 and state.history[-2].event is E.STEP_DONE
    state, actions = machine.tick(state, 111.0, obs(totals={"canary": metrics(230, 0)}))
    assert (state.phase, actions) == (P.COMPLETED, PROMOTE)   # next tick: one change a tick


def test_no_traffic_is_not_success_the_deadline_rolls_back():
    machine = rollout(SetWeight(5), Pause(60, min_requests=100), progress_deadline_s=300)
    state, _ = machine.tick(machine.start(0.0), 1.0, Observations())
    state, actions = machine.tick(state, 300.0, Observations())
    assert state.phase is P.PROGRESSING and actions == ()
    state, actions = machine.tick(state, 361.0, Observations())
    assert (state.phase, actions) == (P.ABORTED, BACK)
    assert state.history[-1].event is E.DEADLINE


def test_a_manual_pause_waits_for_a_person_and_then_resumes():
    machine = rollout(SetWeight(5), Pause(), SetWeight(50), Pause(30))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs())
    state, _ = machine.tick(state, 2.0, obs())
    assert state.phase is P.PAUSED
    state, actions = machine.tick(state, 5_000.0, obs())       # paused: no deadline, no move
    assert (state.phase, actions) == (P.PAUSED, ())
    state, actions = machine.tick(state, 5_001.0, obs(approve=True))
    assert state.phase is P.PROGRESSING and actions == (SetWeights({"stable": 50, "canary": 50}),)
    # the pause after the promotion counts from the promotion, not from the manual pause
    state, _ = machine.tick(state, 5_020.0, obs())
    assert state.phase is P.PROGRESSING
    state, actions = machine.tick(state, 5_032.0, obs())
    assert (state.phase, actions) == (P.COMPLETED, PROMOTE)


def test_promote_while_progressing_is_refused_and_recorded():
    machine = rollout(SetWeight(5), Pause(60))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs(approve=True))
    refused = [r for r in state.history if not r.accepted]
    assert [r.event for r in refused] == [E.PROMOTE] and state.weight == 5


@pytest.mark.parametrize(("canary_errors", "phase", "last_event"), [
    ((100, 1), P.COMPLETED, E.STEPS_DONE),             # 1 % vs 0 %: passes all 3 measurements
    ((100, 10), P.ABORTED, E.ANALYSIS_FAILED),         # 10 % vs 0 %: fails the first
    ((10, 0), P.PAUSED, E.ANALYSIS_INCONCLUSIVE),      # too few requests: a person decides
])
def test_an_inline_analysis_decides_the_next_step(canary_errors, phase, last_event):
    machine = rollout(SetWeight(10), Analyze(AnalysisSpec((ERRORS,))))
    clock = FakeClock()
    state = machine.start(clock.now())
    for _ in range(5):
        state, _ = machine.tick(state, clock.advance(60), obs(canary=canary_errors))
    assert state.phase is phase and state.history[-1].event is last_event


def test_a_background_comparison_against_stable_aborts_a_slow_canary():
    slow = MetricSpec("p99", "latency_p99_ratio", failure_condition=Condition(">", 1.5),
                      interval_s=60, failure_limit=1, min_sample=50)
    machine = rollout(SetWeight(10), Pause(3_600), analysis=AnalysisSpec((slow,)))
    state = machine.start(0.0)
    window = {"canary": metrics(100, 0, p99=80.0), "stable": metrics(900, 0, p99=20.0)}
    ticks = []
    for t in (30, 61, 121, 181):
        state, actions = machine.tick(state, float(t), Observations(metrics=window))
        ticks.append((state.phase, actions))
    # measured at 61 (failed 1 = limit), 121 (failed 2 > limit): aborted then
    assert [p for p, _ in ticks] == [P.PROGRESSING, P.PROGRESSING, P.ABORTED, P.ABORTED]
    assert ticks[2][1] == BACK and ticks[3][1] == ()


def test_the_guardrail_aborts_on_totals_once_the_sample_is_enough():
    machine = rollout(SetWeight(10), Pause(3_600),
                      guardrail=Guardrail(alpha=0.05, min_sample=500))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs())
    few = {"canary": metrics(400, 40), "stable": metrics(4_000, 40)}
    state, actions = machine.tick(state, 60.0, obs(totals=few))
    assert state.phase is P.PROGRESSING and state.guardrail.verdict == "too_few"
    many = {"canary": metrics(1_000, 100), "stable": metrics(9_000, 90)}
    state, actions = machine.tick(state, 120.0, obs(totals=many))
    assert (state.phase, actions) == (P.ABORTED, BACK)
    assert state.guardrail.ci_low > 0 and "canary 100/1000" in state.history[-1].reason


def test_abort_and_alarm_come_first_and_a_finished_release_ignores_ticks():
    machine = rollout(SetWeight(10), Pause(60))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs())
    state, actions = machine.tick(state, 2.0, obs(alarms=("canary-5xx",)))
    assert (state.phase, actions) == (P.ABORTED, BACK)
    assert "canary-5xx" in state.history[-1].reason
    after, actions = machine.tick(state, 3.0, obs(abort=True))
    assert after == state and actions == ()


def test_next_wakeup_is_the_earliest_of_pause_end_analysis_and_deadline():
    machine = rollout(SetWeight(10), Pause(90), progress_deadline_s=600,
                      analysis=AnalysisSpec((replace(ERRORS, interval_s=40, count=None),)))
    state, _ = machine.tick(machine.start(0.0), 1.0, obs())
    assert machine.next_wakeup(state) == 41.0         # background: measured at 1, every 40 s
    state, _ = machine.tick(state, 41.0, obs())
    assert machine.next_wakeup(state) == 81.0
    state, _ = machine.tick(state, 81.0, obs())
    assert machine.next_wakeup(state) == 91.0         # the pause began at 1 s and lasts 90 s


def test_a_target_that_refuses_a_weight_aborts_the_release():
    class Refusing(InMemoryShifter):
        def set_weights(self, weights):
            if weights.get("canary") == 50:
                raise TrafficShiftError("canary unhealthy")
            super().set_weights(weights)

    controller = RolloutController(rollout(SetWeight(10), Pause(10), SetWeight(50)),
                                   Refusing({"stable": 100, "canary": 0}))
    controller.start(0.0)
    controller.tick(1.0, obs())
    controller.tick(12.0, obs())
    assert controller.state.phase is P.ABORTED
    assert controller.shifter.weights() == {"stable": 100, "canary": 0}
    assert "canary unhealthy" in controller.history[-1].reason


def test_flagger_step_weights_are_weight_and_pause_pairs():
    assert step_weights([1, 10], 60, min_requests=5) == (
        SetWeight(1), Pause(60, 5), SetWeight(10), Pause(60, 5))
    assert linear_weights(20, 50) == (20, 40)
    with pytest.raises(ValueError, match="stepWeight"):
        linear_weights(0, 50)


@pytest.mark.parametrize(("steps", "message"), [
    ((SetWeight(10), SetWeight(10)), r"steps\[1\]: weights must increase"),
    ((SetWeight(101),), r"steps\[0\]: weight must be an integer in 1..100"),
    ((SetWeight(0),), r"steps\[0\]: weight must be"),
    ((Pause(-1),), r"steps\[0\]: pause duration"),
    ((Analyze(AnalysisSpec((replace(ERRORS, count=None),))),), "never ends"),
])
def test_a_spec_that_makes_no_sense_is_refused(steps, message):
    with pytest.raises(ValueError, match=message):
        CanarySpec(steps=steps)


def test_the_analysis_phases_map_onto_the_canary_events():
    # Failed and Error both abort (Argo), Inconclusive pauses
    spec = AnalysisSpec((replace(ERRORS, consecutive_error_limit=0, count=1),))
    machine = rollout(SetWeight(10), Analyze(spec))
    state, _ = machine.tick(machine.start(0.0), 1.0, Observations())
    state, actions = machine.tick(state, 62.0, Observations())     # no data -> Error
    assert state.runs[-1].assess()[0] is AnalysisPhase.ERROR
    assert (state.phase, actions) == (P.ABORTED, BACK)


def metric_phase(count, failure_limit, inconclusive_limit, marks):
    spec = MetricSpec("m", "error_rate", interval_s=60, count=count, failure_limit=failure_limit,
                      inconclusive_limit=inconclusive_limit)
    phases = {"S": AnalysisPhase.SUCCESSFUL, "F": AnalysisPhase.FAILED,
              "I": AnalysisPhase.INCONCLUSIVE, "E": AnalysisPhase.ERROR}
    done = [Measurement(60.0 * i, phases[m], None, 0, "") for i, m in enumerate(marks.split())]
    return assess_metric(spec, done)[0]


# Exercise 05, question 2: its answer key, checked against the analysis module itself.
@pytest.mark.parametrize(("count", "failure_limit", "inconclusive_limit", "marks", "phase"), [
    (5, 1, 0, "S F S", "Running"),
    (5, 1, 0, "S F S F", "Failed"),
    (5, 2, 0, "S S I", "Inconclusive"),
    (10, 0, 0, "S E E E E E", "Error"),
    (3, -1, 0, "F F S", "Successful"),
    (5, 2, 0, "F F F I", "Failed"),
])
def test_the_exercise_outcome_table_follows_the_analysis_rules(count, failure_limit,
                                                               inconclusive_limit, marks, phase):
    assert metric_phase(count, failure_limit, inconclusive_limit, marks) == phase
